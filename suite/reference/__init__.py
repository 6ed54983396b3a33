"""Published reference results: the configs of ``configs/reference``, their committed runs, reports and leaderboard.

- ``suite run configs/reference/<name>.yaml --out results/reference/<name> --resume``
  runs (or continues) one reference config;
- ``suite reference report`` (:func:`~suite.reference.publish.write_reference`) writes each config's report to
  ``reports/reference/<name>/``, the leaderboards to ``reports/reference/README.md``,
  and the same leaderboards into the README;
- ``suite reference check NAME`` (:func:`~suite.reference.reproduce.check`) re-runs a
  sample of committed trials here and judges them against what was committed.
"""
