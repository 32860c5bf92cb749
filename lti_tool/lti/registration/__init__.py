"""Registering LMS platforms with the tool: dynamic (IMS LTI Dynamic Registration) and manual."""
