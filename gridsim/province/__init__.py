"""A province of counties: one scenario per county, derived from a template, run in parallel.

The room's flow, one module per step:

* :mod:`~gridsim.province.file` reads a province file (TOML, with the counties and cities as
  CSV tables beside it) into a validated :class:`~gridsim.province.file.Province`;
* :mod:`~gridsim.province.derive` turns each county row into a scenario by documented rules
  (population, urban share, towns, what scales with population);
* :mod:`~gridsim.province.tasks` is what a worker does for one county: simulate it, write its
  tables as Parquet partitions (``tables/<table>/county=<key>/``), send back a small summary;
* :mod:`~gridsim.province.run` plans the counties, checks their memory against the resource
  guard, computes them on an executor (processes or Dask) and writes the province summary;
* :mod:`~gridsim.province.figures` draws the province figures in Chinese and English.

``gridsim province FILE`` (:mod:`~gridsim.province.cli`) is the command.
"""
