"""Streaming: a model that listens continuously, one hop of audio at a time.

A :class:`~suite.streaming.base.Streamer` consumes one feature frame (or one hop of raw
samples) per step and carries an explicit state between steps ("external state" in
google-research ``kws_streaming``'s terms). Families that can stream exactly (the
recurrent ones, the causal TCN and CRNN) have a stateful streamer whose output after
``t`` frames equals the full model's on those ``t`` frames; every other model is
streamed as a sliding window that recomputes its whole input at every hop.
"""

from suite.streaming.base import Streamer, run_stream, state_bytes
from suite.streaming.select import streamer_for

__all__ = ["Streamer", "run_stream", "state_bytes", "streamer_for"]
