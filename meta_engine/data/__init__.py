"""Data API: readers, the strict protocol, simulated students, the web app's answer log."""

from meta_engine.data.answer_log import dataset_from_answer_log
from meta_engine.data.protocol import item_skill_map, load_dataset, load_fold, merge_rows
from meta_engine.data.readers import RawSequence, detect_layout, load_skill_map, read_sequences
from meta_engine.data.simulate import (
    SimStudent,
    StudentSimulator,
    simulate_students,
    split_by_student,
    subset,
)

__all__ = [
    "RawSequence",
    "SimStudent",
    "StudentSimulator",
    "dataset_from_answer_log",
    "detect_layout",
    "load_skill_map",
    "item_skill_map",
    "load_dataset",
    "load_fold",
    "merge_rows",
    "read_sequences",
    "simulate_students",
    "split_by_student",
    "subset",
]
