"""What the teacher pages show, as plain functions over one course (platform + context):

- `roster`: the NRPS roster, cached briefly in Redis; a failing LMS is a notice, not an error.
- `course`: the course's evidence read in a fixed number of queries; mastery per student,
  activity and skill.
- `overview`: one row per learner (skills, gradebook, risks) and one heatmap per activity;
  `risk`: who may need help and why; `student`: one student's drill-down; `items` and
  `item_stats`: question statistics (Rasch difficulty, item-rest discrimination, flags);
  `export`: the CSV files.
"""
