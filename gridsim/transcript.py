"""A ``gridsim`` command line run in this process, as a console transcript.

For the documentation site's executed examples (``docs/*.md``, run at build time by
markdown-exec): the output is the command and what it printed, and a command that fails
raises, so that the site's build fails with it. Running in-process spares each example the
second a new ``gridsim`` process takes to start. A room of its own, downstream of
:mod:`gridsim.cli`, which nothing else imports.
"""

from __future__ import annotations

__all__ = ["cli"]


def cli(line: str) -> str:
    """Run a ``gridsim ...`` command line in this process; return it and what it printed.

    For the documentation's executed examples: the output is what the command printed on
    stdout (stderr too, after it), prefixed by the command itself as a console would show
    it. A command that fails raises, so that the documentation build fails with it.

    Example:
        >>> print(cli("gridsim --version").split()[0])
        $
    """
    import contextlib
    import io
    import shlex

    from gridsim.cli import main

    words = shlex.split(line)
    if words[:1] != ["gridsim"]:
        raise ValueError(f"not a gridsim command line: {line!r}")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(words[1:])
        except SystemExit as exc:  # argparse's --version and --help
            status = exc.code if isinstance(exc.code, int) else 0
    text = out.getvalue() + err.getvalue()
    if status != 0:
        raise RuntimeError(f"{line!r} exited with status {status}:\n{text}")
    return f"$ {line}\n{text.rstrip()}"
