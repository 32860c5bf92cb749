"""Clients for the LMS's LTI Advantage services (token, AGS, NRPS); torch-free, Flask-free."""
