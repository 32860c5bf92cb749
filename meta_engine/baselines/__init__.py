"""Standard knowledge-tracing baselines, each implementing `meta_engine.methods.Method`."""

from meta_engine.baselines.best_lr import BestLR
from meta_engine.baselines.bkt import BKT
from meta_engine.baselines.dkt import DKT
from meta_engine.baselines.question_rate import QuestionRate
from meta_engine.baselines.rasch import OnlineRasch

__all__ = ["BKT", "DKT", "BestLR", "OnlineRasch", "QuestionRate"]
