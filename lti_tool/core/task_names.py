"""The names of Metis's tasks and queues: what the web process enqueues by name, the workers
register, and the admin pages watch. Plain strings, so every layer can share them."""

from __future__ import annotations

ADAPT_TASK = "metis.adapt"
PASSBACK_TASK = "metis.passback"
RELAY_TASK = "metis.relay_outbox"
RETRAIN_TASK = "metis.retrain"
RECONCILE_TASK = "metis.reconcile_scores"

# One queue per role, so a slow LMS (passback) never delays adaptation, nor a retrain either.
ADAPT_QUEUE = "adapt"
PASSBACK_QUEUE = "passback"
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (ADAPT_QUEUE, PASSBACK_QUEUE, MAINTENANCE_QUEUE)
ROUTES = {
    ADAPT_TASK: ADAPT_QUEUE,
    PASSBACK_TASK: PASSBACK_QUEUE,
    RETRAIN_TASK: MAINTENANCE_QUEUE,
    RELAY_TASK: MAINTENANCE_QUEUE,
    RECONCILE_TASK: MAINTENANCE_QUEUE,
}
