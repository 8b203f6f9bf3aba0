"""packetdrill syntax highlighting: one vocabulary, two highlighters.

- :mod:`drillbook.highlight.pygments_lexer`: a Pygments lexer (entry point ``pygments.lexers``,
  alias ``packetdrill``), used by nbconvert, ``drillbook export`` and anything else that asks
  Pygments for ``packetdrill``;
- ``labextension/`` (TypeScript, built into ``drillbook/labextension/``): the same language for
  CodeMirror 6 in JupyterLab, switched on for cells that start with ``%%drill``.

:mod:`drillbook.highlight.vocabulary` holds what both read: the words of each kind and the
look of each kind of token (JupyterLab's theme variables), so a lesson and JupyterLab colour a
script alike. Nothing here imports the parser: Pygments loads every plugin lexer when asked for
any lexer by name, so this stays a few cheap imports.
"""
