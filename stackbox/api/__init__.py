"""The HTTP stack: one ASGI app, one port, a router per service, shared middleware
(request ids, logging, body limits), authentication, policy and error shapes."""
