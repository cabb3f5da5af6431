"""Experiments: variants of a base scenario × replications, with common random numbers.

Read the modules in the order the data flows:

* :mod:`~gridsim.experiment.schema` — the experiment file's TOML sections (pydantic).
* :mod:`~gridsim.experiment.spec` — the records: ``Factor``, ``Variant``, ``Precision``,
  ``Experiment``.
* :mod:`~gridsim.experiment.designs` — full factorial and Latin-hypercube design points.
* :mod:`~gridsim.experiment.naming` — generated variant names (English keys, Chinese display).
* :mod:`~gridsim.experiment.loading` — ``load_experiment``: file → validated ``Experiment``.
* :mod:`~gridsim.experiment.runs` — one run: ``RunSpec`` → ``execute_run`` → ``RunOutcome``.
* :mod:`~gridsim.experiment.executors` — where runs are computed: serial, processes, Dask.
* :mod:`~gridsim.experiment.store` — the resumable results directory.
* :mod:`~gridsim.experiment.session` — one invocation: missing runs, warm-up, precision.
* :mod:`~gridsim.experiment.runner` — ``run_experiment`` and the ``gridsim sweep`` command.
"""
