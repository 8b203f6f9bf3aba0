"""drillbook for a class on one server: JupyterHub with one Unix account per student.

- :mod:`.host`: what the server needs so that students' kernels can run drillbook without root
  (a TUN device usable by all, unprivileged user namespaces, cgroups for the limits);
- :mod:`.limits`: per-student limits on processes, memory and CPU share (cgroups, rlimits);
- :mod:`.accounts`: student accounts with private homes, and their own copy of the labs;
- :mod:`.spawner`: the JupyterHub spawner that puts those together (imports jupyterhub);
- :mod:`.hubapi`, :mod:`.kernel`, :mod:`.labcells`: a student driven as a program — log in,
  start a server, run a lab's cells through the kernel websocket, judge what came back
  (the acceptance tests and ``benchmarks/bench_classroom.py`` use them);
- :mod:`.launch`: a throwaway hub with throwaway students, for those tests and benchmarks.

Nothing here is imported by ``import drillbook``.
"""
