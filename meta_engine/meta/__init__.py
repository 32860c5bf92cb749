"""Meta-learning: per-student adaptation as pure functions and the outer algorithms."""
