"""Exact streamers: the recurrent families and the causal TCN, CRNN, 1-D CNN, attention model and transformer.

Each keeps what the full model would have computed for the frames heard so far, and
the *sum* of the per-frame features the model averages over time (with their count),
so that the logits after ``t`` frames equal the full model's on those ``t`` frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from suite.models.attention import AttentionRNN
from suite.models.cnn1d import CNN1d
from suite.models.crnn import CRNN
from suite.models.recurrent import RecurrentClassifier
from suite.models.tcn import TCN
from suite.models.transformer import KeywordTransformer, windowed_alibi
from suite.streaming.base import State, Streamer


def _pooled(state: State, features: torch.Tensor) -> State:
    """Add one frame's features ``(B, C)`` to the running sum the model's time average is taken from."""
    return {"sum": state["sum"] + features, "count": state["count"] + 1}


def _mean(state: State) -> torch.Tensor:
    return state["sum"] / state["count"]


class RecurrentStreamer(Streamer):
    """RNN, LSTM or GRU: one time step of every layer per frame; state ``h`` (and ``c``) per layer.

    State bytes: ``layers * H`` (``2 *`` for the LSTM) plus the ``H`` running sum.
    """

    mode = "state"

    def __init__(self, model: RecurrentClassifier) -> None:
        if model.rnn.bidirectional:
            raise ValueError("a bidirectional RNN needs the future: it cannot stream")
        self.model, self.rnn = model, model.rnn
        self.hop_shape = (model.rnn.input_size,)

    def initial_state(self, batch: int) -> State:
        rnn = self.rnn
        zeros = torch.zeros(rnn.num_layers, batch, rnn.hidden_size)
        state = {"h": zeros, "sum": torch.zeros(batch, rnn.hidden_size), "count": torch.zeros((), dtype=torch.int64)}
        return state | ({"c": zeros.clone()} if isinstance(rnn, nn.LSTM) else {})

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        hidden = (state["h"], state["c"]) if "c" in state else state["h"]
        output, hidden = self.rnn(hop.unsqueeze(1), hidden)  # (B, 1, F) -> (B, 1, H)
        pooled = _pooled(state, output[:, 0])
        kept = dict(zip(("h", "c"), hidden, strict=True)) if isinstance(hidden, tuple) else {"h": hidden}
        return self.model.fc(_mean(pooled)), pooled | kept


def _folded(conv: nn.Conv1d, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """A bias-free convolution and eval-mode batch norm as one affine map of the flattened taps ``(B, C_in * k)``.

    Batch norm in eval mode is ``x * scale + shift`` per channel; folded into the
    convolution's weight it is one matrix product per frame. One frame of a 1-D
    convolution is that product over its ``k`` taps: at batch 1 a ``Conv1d`` call on a
    few frames costs several times the product (measured: 29 us against 27 us for the
    product alone, 120 us for the 1x1 stem with its batch norm), so the streamer uses it.
    """
    with torch.no_grad():
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        weight = (conv.weight * scale[:, None, None]).flatten(1)  # (C_out, C_in * k), taps in time order per channel
        return weight.clone(), (norm.bias - norm.running_mean * scale).clone()


class CausalTCNStreamer(Streamer):
    """Causal TCN: each dilated block keeps its last ``(k - 1) * d`` inputs (the buffers of ``kws_streaming``).

    Per frame, each convolution is one matrix product over its ``k`` taps (``d`` frames
    apart) with batch norm folded in (:func:`_folded`); the weights are taken when the
    streamer is built, so build it after training. Receptive field
    ``1 + (k - 1) * (2^depth - 1)`` frames; state bytes ``C * (k - 1) * (2^depth - 1)``
    plus the ``C`` running sum.
    """

    mode = "state"

    def __init__(self, model: TCN) -> None:
        if not model.causal:
            raise ValueError("a TCN with 'same' padding looks ahead: stream tcn_causal, or use a sliding window")
        self.model = model
        stem = model.stem[0]
        self.hop_shape = (stem.in_channels,)
        self.stem = _folded(stem, model.stem[1])
        convs = [block.conv[1] for block in model.blocks]  # [0] is the causal padding
        self.blocks = [(_folded(conv, block.conv[2]), conv.dilation[0]) for conv, block in zip(convs, model.blocks, strict=True)]
        self.past = [conv.dilation[0] * (conv.kernel_size[0] - 1) for conv in convs]
        self.receptive_field_frames = 1 + sum(self.past)

    def initial_state(self, batch: int) -> State:
        width = self.model.stem[0].out_channels
        buffers = {f"buffer{index}": torch.zeros(batch, width, past) for index, past in enumerate(self.past)}
        return buffers | {"sum": torch.zeros(batch, width), "count": torch.zeros((), dtype=torch.int64)}

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = torch.relu(F.linear(hop, *self.stem))  # (B, F) -> (B, C): the pointwise stem
        new: State = {}
        for index, ((weight, bias), dilation) in enumerate(self.blocks):
            window = torch.cat([state[f"buffer{index}"], x.unsqueeze(2)], dim=2)  # (B, C, past + 1)
            new[f"buffer{index}"] = window[:, :, 1:]
            x = x + torch.relu(F.linear(window[:, :, ::dilation].flatten(1), weight, bias))  # the residual block
        pooled = _pooled(state, x)
        return self.model.classifier.fc(_mean(pooled)), new | pooled


class CausalCRNNStreamer(Streamer):
    """Causal CRNN: the convolution's last ``k_t - 1`` frames, a GRU step every ``stride_t`` frames.

    A convolution column is complete at every ``stride_t``-th frame (its ``k_t`` frames
    ending there); then the GRU steps once. State bytes: ``F * (k_t - 1)`` buffered bins,
    ``layers * H`` GRU state, the ``H`` running sum.
    """

    mode = "state"

    def __init__(self, model: CRNN) -> None:
        if not model.causal:
            raise ValueError("a CRNN with 'same' time padding looks ahead: stream crnn_causal, or use a sliding window")
        self.model = model
        self.conv = nn.Sequential(*list(model.conv)[1:])  # without the time padding
        self.n_features = model.n_features
        self.hop_shape = (model.n_features,)
        self.period = model.stride[1]  # the convolution and the GRU run on every stride-th frame

    def initial_state(self, batch: int) -> State:
        gru = self.model.gru
        return {
            "buffer": torch.zeros(batch, 1, self.n_features, self.model.kernel[1] - 1),
            "h": torch.zeros(gru.num_layers, batch, gru.hidden_size),
            "sum": torch.zeros(batch, gru.hidden_size),
            "count": torch.zeros((), dtype=torch.int64),
            "frame": torch.zeros((), dtype=torch.int64),
        }

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        window = torch.cat([state["buffer"], hop[:, None, :, None]], dim=3)  # (B, 1, F, k_t)
        new = {"buffer": window[..., 1:], "frame": state["frame"] + 1, "h": state["h"]}
        pooled = {"sum": state["sum"], "count": state["count"]}
        if int(state["frame"]) % self.model.stride[1] == 0:  # this frame completes a column
            column = self.conv(window).flatten(1, 2).transpose(1, 2)  # (B, C, F', 1) -> (B, 1, C * F')
            output, new["h"] = self.model.gru(column, state["h"])
            pooled = _pooled(state, output[:, 0])
        return self.model.fc(_mean(pooled)), new | pooled


class CausalCNN1dStreamer(Streamer):
    """Causal 1-D CNN: convolutions, each followed by max-pooling by 2 (``ceil_mode``), one hop at a time.

    Each block keeps its last ``k - 1`` *committed* inputs and the convolution output
    that waits for its pooling partner. A block's pooled frame is committed once both
    of its two inputs are; until then it is provisional (the full model on a clip of odd
    length pools the last frame alone, as ``ceil_mode`` does), passed on to the next
    block for this hop's output but never stored. So the output after every hop equals
    the full model's on the frames so far. State bytes: per block ``C_in * (k - 1)`` plus
    ``C`` pending, and the ``C`` running sum of the last block's committed frames.
    """

    mode = "state"

    def __init__(self, model: CNN1d) -> None:
        if not model.causal:
            raise ValueError("a CNN1d with 'same' padding looks ahead: stream cnn1d_causal, or use a sliding window")
        self.model = model
        convs = [block for block in model.features if not isinstance(block, nn.MaxPool1d)]
        self.hop_shape = (convs[0][1].in_channels,)
        self.blocks = [_folded(block[1], block[2]) for block in convs]  # [0] is the causal padding
        self.past = [block[1].kernel_size[0] - 1 for block in convs]
        self.inputs = [block[1].in_channels for block in convs]
        # Frame t of block i's input covers 2^i hops: the receptive field grows with every pooling.
        self.receptive_field_frames = 1 + sum(past * 2**index for index, past in enumerate(self.past)) + 2 ** len(convs) - 1

    def initial_state(self, batch: int) -> State:
        width = self.model.classifier.fc.in_features
        state: State = {"sum": torch.zeros(batch, width), "count": torch.zeros((), dtype=torch.int64)}
        for index, (past, channels) in enumerate(zip(self.past, self.inputs, strict=True)):
            state[f"buffer{index}"] = torch.zeros(batch, channels, past)
            state[f"pending{index}"] = torch.zeros(batch, width)
            state[f"waiting{index}"] = torch.zeros((), dtype=torch.int64)  # 1: pending holds a committed output
        return state

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        new = dict(state)
        value, committed = hop, True
        for index, (weight, bias) in enumerate(self.blocks):
            window = torch.cat([state[f"buffer{index}"], value.unsqueeze(2)], dim=2)  # (B, C_in, k)
            out = torch.relu(F.linear(window.flatten(1), weight, bias))  # this input's convolution output, (B, C)
            waiting = bool(state[f"waiting{index}"])
            pooled = torch.maximum(state[f"pending{index}"], out) if waiting else out
            if committed:
                new[f"buffer{index}"] = window[:, :, 1:]
                new[f"pending{index}"] = out if not waiting else torch.zeros_like(out)
                new[f"waiting{index}"] = torch.tensor(0 if waiting else 1)
            value, committed = pooled, committed and waiting  # a pair completed: the pooled frame is final
        if committed:
            new |= _pooled(state, value)
            return self.model.classifier.fc(_mean(new)), new
        return self.model.classifier.fc((state["sum"] + value) / (state["count"] + 1)), new


class CausalAttentionStreamer(Streamer):
    """Causal attention model: one LSTM step per frame, the last ``context`` encodings kept for the attention.

    The convolutions run along frequency only, so each frame is convolved alone. The
    newest frame's encoding is the query over the kept encodings (all of them until
    ``context`` frames have been heard). State bytes: ``2 * layers * 2H`` for the LSTM,
    ``context * 2H`` for the encodings, a counter.
    """

    mode = "state"

    def __init__(self, model: AttentionRNN) -> None:
        if not model.causal:
            raise ValueError("the attention model's bidirectional LSTM needs the future: stream attention_causal")
        self.model, self.lstm = model, model.lstm
        self.hop_shape = (model.lstm.input_size,)
        self.receptive_field_frames = None  # the LSTM state carries the whole past

    def initial_state(self, batch: int) -> State:
        lstm, size = self.lstm, self.lstm.hidden_size
        zeros = torch.zeros(lstm.num_layers, batch, size)
        return {
            "h": zeros,
            "c": zeros.clone(),
            "encodings": torch.zeros(batch, self.model.context, size),
            "count": torch.zeros((), dtype=torch.int64),
        }

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        frame = self.model.conv(hop[:, None, :, None])[:, 0, :, 0]  # (B, F): along frequency only
        output, (h, c) = self.lstm(frame.unsqueeze(1), (state["h"], state["c"]))  # (B, 1, 2H)
        encodings = torch.cat([state["encodings"][:, 1:], output], dim=1)  # the last `context`, oldest first
        count = torch.clamp(state["count"] + 1, max=self.model.context)
        kept = encodings[:, encodings.shape[1] - int(count) :]  # (B, heard, 2H)
        query = self.model.query(output)  # (B, 1, 2H)
        weights = torch.softmax(torch.bmm(query, kept.transpose(1, 2)), dim=-1)
        logits = self.model.head(torch.bmm(weights, kept).squeeze(1))
        return logits, {"h": h, "c": c, "encodings": encodings, "count": count}


class CausalTransformerStreamer(Streamer):
    """Causal transformer: a token every ``patch_frames`` hops, and per block the keys and values of the last ``context - 1``.

    The hop that completes a patch makes a token; in each block it attends (with the
    ALiBi bias of :func:`~suite.models.transformer.windowed_alibi`) over the cached keys
    and values and its own, then leaves its keys and values in the cache, and its output
    joins the running sum the logits are taken from. A hop inside a patch makes a
    *provisional* token from the frames so far padded with zeros (as the full model pads a
    clip that ends inside a patch): it gives this hop's logits and is never stored, so the
    output after every hop equals the full model's. Receptive field
    ``patch_frames * (depth * (context - 1) + 1)`` frames; state bytes
    ``2 * depth * (context - 1) * D`` for the caches, ``F * (patch_frames - 1)`` pending
    frames, the ``D`` running sum, counters.
    """

    mode = "state"

    def __init__(self, model: KeywordTransformer) -> None:
        if not model.causal:
            raise ValueError("the transformer's class token attends over the whole clip: stream transformer_causal")
        self.model, self.patch = model, model.patch_frames
        self.hop_shape = (model.embed.in_features // self.patch,)
        self.heads = model.blocks[0].attn.num_heads
        self.kept = model.context - 1  # cached tokens per block
        self.period = self.patch  # the work per hop is the same; the cache moves on every patch_frames-th hop
        self.receptive_field_frames = self.patch * (len(model.blocks) * self.kept + 1)
        # The bias for each number of cached tokens, built once: at batch 1 every op of a step counts.
        self.biases = [
            windowed_alibi(model.slopes, torch.arange(cached, -1, -1)[None, :], model.context) for cached in range(self.kept + 1)
        ]
        self.scale = (model.fc.in_features // self.heads) ** -0.5  # scaled_dot_product_attention's default

    def initial_state(self, batch: int) -> State:
        width = self.model.fc.in_features
        cache = torch.zeros(batch, self.heads, self.kept, width // self.heads)
        state: State = {
            "pending": torch.zeros(batch, self.hop_shape[0], self.patch - 1),
            "frame": torch.zeros((), dtype=torch.int64),
            "cached": torch.zeros((), dtype=torch.int64),
            "sum": torch.zeros(batch, width),
            "count": torch.zeros((), dtype=torch.int64),
        }
        for index in range(len(self.model.blocks)):
            state[f"keys{index}"], state[f"values{index}"] = cache, cache.clone()
        return state

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        place = int(state["frame"]) % self.patch  # this hop's place in its patch
        complete = place == self.patch - 1
        frames = torch.cat([state["pending"][..., :place], hop.unsqueeze(2)], dim=2)  # (B, F, place + 1)
        x = self.model.embed(F.pad(frames, (0, self.patch - 1 - place)).flatten(1)).unsqueeze(1)  # (B, 1, D)
        cached = int(state["cached"])
        bias = self.biases[cached]  # (heads, 1, S) over the cached tokens and this one
        new: State = {"frame": state["frame"] + 1, "cached": torch.clamp(state["cached"] + int(complete), max=self.kept)}
        new["pending"] = state["pending"] if complete else torch.cat([frames, state["pending"][..., place + 1 :]], dim=2)
        batch, _, width = x.shape
        for index, block in enumerate(self.model.blocks):
            shape = (batch, 1, 3, self.heads, width // self.heads)
            query, key, value = block.attn.qkv(block.norm1(x)).reshape(shape).permute(2, 0, 3, 1, 4)  # (B, heads, 1, d)
            keys = torch.cat([state[f"keys{index}"], key], dim=2)  # (B, heads, kept + 1, d), the oldest first
            values = torch.cat([state[f"values{index}"], value], dim=2)
            # One query: written out, the attention avoids scaled_dot_product_attention's masked math path (~80 us here).
            scores = torch.matmul(query, keys[:, :, self.kept - cached :].transpose(2, 3)) * self.scale + bias
            out = torch.matmul(torch.softmax(scores, dim=-1), values[:, :, self.kept - cached :])  # (B, heads, 1, d)
            x = x + block.attn.proj(out.transpose(1, 2).reshape(batch, 1, width))
            x = x + block.mlp(block.norm2(x))
            if complete:  # the token is final: its keys and values join the cache, the oldest leave
                new[f"keys{index}"], new[f"values{index}"] = keys[:, :, 1:], values[:, :, 1:]
        token = self.model.norm(x[:, 0])  # (B, D)
        if complete:
            pooled = _pooled(state, token)
            return self.model.fc(_mean(pooled)), state | new | pooled
        return self.model.fc((state["sum"] + token) / (state["count"] + 1)), state | new
