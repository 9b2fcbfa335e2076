"""The conductor: the service that writes the database on behalf of agents which hold
no DB credentials (heartbeats now; instance workflows later), and orchestrates
multi-service workflows. Its RPC surface is `manager.ConductorManager`; each workflow
gets a module of its own beside it."""
