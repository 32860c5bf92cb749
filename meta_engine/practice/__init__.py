"""Practice-set selection, feedback, and policy comparison in simulation."""

from meta_engine.practice.feedback import Feedback, SkillMastery, feedback
from meta_engine.practice.select import (
    PlannedItem,
    PracticePlan,
    PracticeSettings,
    select_practice_set,
)

__all__ = ["Feedback", "PlannedItem", "PracticePlan", "PracticeSettings", "SkillMastery",
           "feedback", "select_practice_set"]
