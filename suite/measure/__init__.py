"""What a model costs: parameters, size and MACs (and, later, time and memory)."""

from suite.measure.counting import MAC_CONVENTION, MacCount, count_macs, count_params, model_bytes

__all__ = ["MAC_CONVENTION", "MacCount", "count_macs", "count_params", "model_bytes"]
