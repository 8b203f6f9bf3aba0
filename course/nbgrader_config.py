"""nbgrader's configuration for drillbook's labs (the course folder is this folder).

Teacher versions live in source/<lab>/<lab>.ipynb. The student versions in the project's
labs/ folder are generated from them with `make labs` (drillbook labs), which runs
`nbgrader generate_assignment` on a scratch copy of this folder. A teacher running a real
class works here as nbgrader documents: generate_assignment, release_assignment, collect,
autograde, generate_feedback.
"""

c = get_config()  # noqa: F821 - nbgrader's config loader provides get_config

c.CourseDirectory.course_id = "drillbook"

# A solution region becomes one empty line, not nbgrader's default stub (which raises
# NotImplementedError and would stop Run All at the first exercise). An answer cell keeps the
# handed-out line above its region (`x = None  # your prediction`, or the script lines marked
# EDIT ME), so the student still sees what to change. drillbook.course.regions.CODE_STUB is
# the same.
c.ClearSolutions.code_stub = {"python": ""}

# Lab cells run real packetdrill scripts, some of them several (the explore cells): give each
# cell as long as `drillbook export` does.
c.Execute.timeout = 180
