"""`metis bench load`: many simulated students (Locust users) launching and answering over
HTTPS against the demo stack. `locustfile` is run by Locust only (it monkey-patches with gevent
on import); `command` starts the stack and Locust as a child process."""
