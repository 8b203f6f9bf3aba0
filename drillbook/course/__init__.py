"""The labs as an nbgrader course: teacher versions with solutions, student versions without.

- :mod:`drillbook.course.regions` (pure): nbgrader's ``### BEGIN SOLUTION`` regions in a cell,
  what a teacher's ``%%drill`` cell runs and what nbgrader hands out.
- :mod:`drillbook.course.grading`: whether nbgrader is grading this kernel (autograde or
  validate), so that a self-check that has not passed raises and its points are lost.
- :mod:`drillbook.course.release`: ``drillbook labs``: the student labs in ``labs/`` made from
  the teacher versions in ``course/source/`` by ``nbgrader generate_assignment``.
"""

from __future__ import annotations
