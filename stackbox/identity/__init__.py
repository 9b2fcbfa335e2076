"""Identity v3 (Keystone-compatible): users, projects, roles, tokens, catalog."""
