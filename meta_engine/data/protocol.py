"""The strict evaluation protocol's data side: merge repeated rows, build `Dataset`s, load folds.

ASSISTments 2009 exports one row per skill of a multi-skill question, so ~16% of rows repeat the
question of the row before with the same answer. Predicting such a row after seeing the previous
one leaks its answer. The strict protocol merges consecutive rows of the same question into one
interaction carrying all of its skills. The merged interaction's answer is the *first* row's: it
is the student's first response to the question, and in these files the repeated rows copy it
(if a file ever disagreed, the first attempt is what a tutor would grade).

Skill-only data has no question ids (item 0); consecutive rows on the same skill there are
distinct answers to distinct problems and are never merged.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from meta_engine.data.readers import QuestionSkillMap, RawSequence, read_sequences, skill_tuple
from meta_engine.types import PAD, Dataset, Sequence


def merge_rows(raw: list[RawSequence]) -> tuple[list[Sequence], dict[int, tuple[int, ...]]]:
    """Apply the strict merge to all students at once (vectorised over the whole file).

    Returns the merged sequences (skills padded to the file's largest skill count) and the
    item -> skills map observed in the file.
    """
    if not raw:
        return [], {}
    lens = np.array([r.items.shape[0] for r in raw], dtype=np.int64)
    kr = max(r.skills.shape[1] for r in raw)
    items = np.concatenate([r.items for r in raw])
    correct = np.concatenate([r.correct for r in raw])
    skills = np.zeros((items.shape[0], kr), dtype=np.int64)
    off = 0
    for r in raw:
        skills[off : off + r.items.shape[0], : r.skills.shape[1]] = r.skills
        off += r.items.shape[0]
    starts = np.zeros(items.shape[0], dtype=bool)
    starts[np.cumsum(lens)[:-1]] = True  # never merge across students
    starts[0] = True
    starts[1:] |= (items[1:] != items[:-1]) | (items[1:] == PAD)
    gid = np.cumsum(starts) - 1
    n_groups = int(gid[-1]) + 1

    # Distinct skills of each group in first-seen order, then their rank within the group.
    g_rep = np.repeat(gid, kr)
    s_flat = skills.reshape(-1)
    keep = s_flat != PAD
    g_rep, s_flat = g_rep[keep], s_flat[keep]
    key = g_rep * (int(skills.max(initial=0)) + 1) + s_flat
    _, first = np.unique(key, return_index=True)
    first.sort()  # rows are in group order already, so sorting by position keeps first-seen order
    g_u, s_u = g_rep[first], s_flat[first]
    counts = np.bincount(g_u, minlength=n_groups)
    k = max(int(counts.max(initial=0)), 1)
    group_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(g_u.shape[0]) - group_start[g_u]
    m_skills = np.zeros((n_groups, k), dtype=np.int64)
    m_skills[g_u, rank] = s_u

    m_items = items[starts]
    m_correct = correct[starts]
    seq_of_row = np.repeat(np.arange(len(raw)), lens)
    seq_groups = np.bincount(seq_of_row[starts], minlength=len(raw))
    bounds = np.concatenate([[0], np.cumsum(seq_groups)])
    seqs = [
        Sequence(
            student=r.student,
            items=m_items[bounds[i] : bounds[i + 1]].copy(),
            skills=m_skills[bounds[i] : bounds[i + 1]].copy(),
            correct=m_correct[bounds[i] : bounds[i + 1]].copy(),
            timestamps=np.zeros(int(seq_groups[i]), dtype=np.float64),  # files carry no times
        )
        for i, r in enumerate(raw)
    ]
    return seqs, item_skill_map(m_items, m_skills)


def item_skill_map(items: np.ndarray, skills: np.ndarray) -> dict[int, tuple[int, ...]]:
    """item -> sorted union of the skills it was seen with (items 0 are skipped)."""
    mask = items != PAD
    if not mask.any():
        return {}
    it = np.repeat(items[mask], skills.shape[1])
    sk = skills[mask].reshape(-1)
    keep = sk != PAD
    pairs = np.unique(np.stack([it[keep], sk[keep]], axis=1), axis=0)
    out: dict[int, list[int]] = {}
    for i, s in pairs.tolist():
        out.setdefault(i, []).append(s)
    return {i: tuple(v) for i, v in out.items()}


def pad_skills(ds: Dataset, k: int) -> None:
    """Widen every sequence's skills matrix to K columns in place (K >= current width)."""
    for s in ds.sequences:
        if s.skills.shape[1] < k:
            wide = np.zeros((s.skills.shape[0], k), dtype=np.int64)
            wide[:, : s.skills.shape[1]] = s.skills
            s.skills = wide


def skill_width(ds: Dataset) -> int:
    return max((s.skills.shape[1] for s in ds.sequences), default=1)


def load_dataset(
    path: Path,
    *,
    name: str | None = None,
    question_skill_map: QuestionSkillMap | None = None,
) -> Dataset:
    """Read one file in any supported layout and apply the strict merge."""
    path = Path(path)
    raw, _ = read_sequences(path, question_skill_map=question_skill_map)
    seqs, iskills = merge_rows(raw)
    n_items = max((int(s.items.max(initial=0)) for s in seqs), default=0)
    n_skills = max((int(s.skills.max(initial=0)) for s in seqs), default=0)
    if question_skill_map is not None:
        for q, sk in question_skill_map.items():
            tup = skill_tuple(sk)
            iskills[int(q)] = tuple(sorted(set(iskills.get(int(q), ())) | set(tup)))
            n_items = max(n_items, int(q))
            n_skills = max([n_skills, *tup])
    return Dataset(name or path.stem, seqs, n_items, n_skills, iskills)


def _find(data_dir: Path, split: str, fold: int) -> Path:
    pat = re.compile(rf".*_{split}{fold}\.(csv|txt)$")
    hits = sorted(p for p in data_dir.iterdir() if pat.match(p.name))
    if len(hits) != 1:
        raise FileNotFoundError(
            f"{data_dir}: expected exactly one *_{split}{fold}.csv file, found {len(hits)}"
        )
    return hits[0]


def load_fold(
    data_dir: Path,
    fold: int,
    *,
    question_skill_map: QuestionSkillMap | None = None,
) -> tuple[Dataset, Dataset, Dataset]:
    """(train, valid, test) of fold ``fold`` found by the *_train{k}/_valid{k}/_test{k} names.

    The three share n_items / n_skills (max over the files), the item -> skills map (union)
    and the skill-matrix width, so a model sized on train can take any of them.
    """
    data_dir = Path(data_dir)
    parts = [
        load_dataset(_find(data_dir, split, fold), question_skill_map=question_skill_map)
        for split in ("train", "valid", "test")
    ]
    n_items = max(d.n_items for d in parts)
    n_skills = max(d.n_skills for d in parts)
    iskills: dict[int, set[int]] = {}
    for d in parts:
        for i, sk in d.item_skills.items():
            iskills.setdefault(i, set()).update(sk)
    shared = {i: tuple(sorted(v)) for i, v in iskills.items()}
    k = max(skill_width(d) for d in parts)
    for d in parts:
        d.n_items, d.n_skills, d.item_skills = n_items, n_skills, shared
        pad_skills(d, k)
    train, valid, test = parts
    return train, valid, test
