"""``lemaire-2022``: a memory-aware energy model beside the compute-only cost tables.

Source: E. Lemaire, L. Cordone, A. Castagnetti, P.-E. Novac, J. Courtois,
B. Miramond, "An Analytical Estimation of Spiking Neural Networks Energy
Efficiency", ICONIP 2022 (LNCS 13623, doi:10.1007/978-3-031-30105-6_48,
arXiv:2210.13107). Energy = operations + addressing + memory accesses, each
priced with 45 nm figures (Horowitz, ISSCC 2014): a 32-bit integer add
0.1 pJ, a multiply 3.1 pJ (a MAC = 3.2 pJ), and an SRAM access whose cost per
byte grows with the buffer it reads: 10, 20 and 100 pJ per 32-bit word for
8 KB, 32 KB and 1 MB, linearly interpolated (0 at 0 bytes, constant above
1 MB).

Per synaptic layer call (Linear or Conv, input ``x``, output ``y``; 4-byte words):

* **spike input** (``x`` binary): each input spike costs ``N_ops`` ACs (Linear:
  ``out_features``; Conv: ``C_out/groups x prod(ceil(k/s))``), ``N_mem``
  addressing ACs (Linear: ``out_features``; Conv: ``C_out/groups x prod(k)``)
  plus, for a convolution, 2 addressing MACs (locating its first output);
  memory: the spike read from a FIFO of ``fifo_elements`` words, ``N_mem``
  weight reads from the parameter buffer, ``N_mem`` membrane-potential reads
  and writes from a buffer of the layer's output size (one sample, one step);
* **analog input** (``x`` not binary, e.g. the first layer of a
  direct-coded net): ``y.numel() x weights per output`` MACs (dense: zero
  inputs are not skipped), addressing ACs ``x.numel() + y.numel()`` (plus
  ``C_out x prod(k)`` per sample for a convolution), input reads (Linear: each
  input once; Conv: once per weight use) from an input buffer of one
  sample's input, the same number of weight reads; the output is written
  only when the network has no spiking neuron (a plain ANN);
* a bias costs one AC and one parameter read per output value.

Per spiking-neuron call: a membrane-potential read and write per neuron
(buffer: the layer's neurons of one sample), one AC per output spike and,
for a leaky neuron (a decay ``beta`` other than 1), one MAC per update for
the leak; each output spike is written to the next layer's FIFO.

This reading follows SpikingJelly 2.0's ``estimate_lemaire_energy`` (whose
figures ours equal on the networks of ``tests/test_energy_lemaire.py``),
including its fix of the paper's Eq. (2) (one ``N_out`` fan-out per input
spike, as in the paper's Eqs. (8), (10), (15), (17)). Where we differ, it is
per sample: SpikingJelly sizes the analog input, potential and output
buffers from the whole batched call and adds a convolution's per-call
addressing once per batched call; we size them for one sample (each sample
as if processed alone), so our per-sample figure does not change with the
batch size. At batch size 1 the two are the same.

A strided convolution is charged its whole kernel per input spike: ``N_mem``
(``C_out/g x prod(k)``) weight reads and potential reads and writes, while
the spike updates only ``N_ops`` (``C_out/g x prod(ceil(k/s))``) outputs. This
is our reading of the paper's ``N_mem`` and SpikingJelly's convention (its
figures equal ours at stride 2 in the cross-check); it makes networks with
large strides look costly: a 14 x 14 patch embedding with stride 14 is
charged 196 times the weights and potentials each spike uses, more
potentials than the layer has outputs. The ``transformer`` architecture's
patch embedding is such a layer, and most of its memory-aware energy (and its
SNN / ANN ratio) comes from it.

Not modelled: RNN cells and :class:`SynapticMatmul` are priced for their
operations only (effective MACs x 3.2 pJ + ACs x 0.1 pJ, no addressing or
memory); ReLU/Sigmoid, pooling and normalisation cost nothing; no static
power, no off-chip (DRAM) traffic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from neuroenergy.errors import InvalidInputError

__all__ = ["LemaireModel", "LayerShape", "LEMAIRE_2022", "LEMAIRE_NOTE"]

WORD_BYTES = 4

LEMAIRE_NOTE = (
    "memory-aware analytical estimate (Lemaire et al. 2022: operations + addressing + "
    "SRAM accesses for inputs/outputs, parameters and membrane potentials); not a hardware reading"
)


@dataclass(frozen=True)
class LayerShape:
    """What a memory-aware model needs to know of one layer (per sample, per step).

    Attributes:
        conv: a convolution (else a Linear layer, cell or product).
        sample_in: input values of one sample at one step.
        sample_out: output values of one sample at one step (neurons of a neuron layer).
        params: parameters held by the layer (weights and bias).
        weights_per_output: weights feeding one output (``in_features``; ``C_in/groups x prod(k)``).
        fanout_ops: synaptic operations one input spike causes (``N_out``; conv ``C_out/g x prod(ceil(k/s))``).
        fanout_mem: weights and potentials one input spike touches (``N_out``; conv ``C_out/g x prod(k)``).
        kernel_outputs: ``C_out x prod(k)`` of a convolution (per-sample addressing), else 0.
        has_bias: the layer adds a bias.
        leaky: a spiking neuron with a decay other than 1 (one MAC per update).
        priced: the layer type has a memory-aware formula (Linear, Conv, spiking neuron).
    """

    conv: bool = False
    sample_in: int = 0
    sample_out: int = 0
    params: int = 0
    weights_per_output: int = 0
    fanout_ops: int = 0
    fanout_mem: int = 0
    kernel_outputs: int = 0
    has_bias: bool = False
    leaky: bool = False
    priced: bool = False


@dataclass(frozen=True)
class LemaireModel:
    """The Lemaire et al. 2022 analytical energy model, with its constants.

    Attributes:
        name, version, source: as for a :class:`~neuroenergy.energy.CostTable`.
        e_add_pj: one 32-bit integer addition (an AC), pJ.
        e_mul_pj: one 32-bit integer multiplication, pJ (a MAC costs add + mul).
        sram_points: ``(buffer bytes, pJ per byte)`` points of the SRAM access cost, interpolated.
        fifo_elements: words in each spike FIFO (1000 in the paper's experiments).
    """

    name: str = "lemaire-2022"
    e_add_pj: float = 0.1
    e_mul_pj: float = 3.1
    sram_points: tuple[tuple[float, float], ...] = (
        (0.0, 0.0), (8 * 1024.0, 10.0 / WORD_BYTES), (32 * 1024.0, 20.0 / WORD_BYTES),
        (1024 * 1024.0, 100.0 / WORD_BYTES))
    fifo_elements: int = 1000
    source: str = ("Lemaire et al., ICONIP 2022 (doi:10.1007/978-3-031-30105-6_48), "
                   "45 nm costs after Horowitz ISSCC 2014")
    version: str = "1"
    kind: str = "memory-aware"
    note: str = LEMAIRE_NOTE

    def __post_init__(self) -> None:
        for field in ("e_add_pj", "e_mul_pj"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvalidInputError(f"LemaireModel.{field} must be finite and >= 0 pJ, got {value!r}")
        xs = [x for x, _ in self.sram_points]
        if len(xs) < 2 or any(b <= a for a, b in zip(xs, xs[1:])):
            raise InvalidInputError("LemaireModel.sram_points needs >= 2 points with increasing buffer sizes")
        if self.fifo_elements <= 0:
            raise InvalidInputError("LemaireModel.fifo_elements must be positive")

    @property
    def e_mac_pj(self) -> float:
        return self.e_add_pj + self.e_mul_pj

    @property
    def e_ac_pj(self) -> float:
        return self.e_add_pj

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> str:
        return (f"{self.name} v{self.version}: memory-aware, E_add {self.e_add_pj:g} pJ, "
                f"E_mul {self.e_mul_pj:g} pJ, SRAM {self.sram_points[1][1] * WORD_BYTES:g}-"
                f"{self.sram_points[-1][1] * WORD_BYTES:g} pJ per 32-bit access by buffer size ({self.source})")

    def sram_pj_per_byte(self, buffer_bytes: float) -> float:
        """Cost of one byte read or written from a buffer of ``buffer_bytes`` (pJ)."""
        points = self.sram_points
        x = min(max(buffer_bytes, points[0][0]), points[-1][0])
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return points[-1][1]

    def counts(self, row, shape: LayerShape | None, network_spiking: bool) -> dict[str, float]:
        """The model's counts of one report row (per sample), by the formulas above."""
        c = dict.fromkeys(("op_macs", "op_acs", "addr_acs", "addr_macs", "read_in_bytes",
                           "write_out_bytes", "read_params_bytes", "read_potential_bytes",
                           "write_potential_bytes"), 0.0)
        if shape is None or not shape.priced:
            c["op_macs"], c["op_acs"] = row.effective_macs, row.effective_acs
            return c
        w = WORD_BYTES
        if row.kind == "neuron":
            c["op_acs"] = row.spikes
            c["op_macs"] = row.outputs if shape.leaky else 0.0
            c["read_potential_bytes"] = c["write_potential_bytes"] = row.outputs * w
            c["write_out_bytes"] = row.spikes * w
            return c
        if row.kind != "synapse":
            return c
        spikes = row.spike_inputs
        c["op_acs"] = spikes * shape.fanout_ops
        c["addr_acs"] = spikes * shape.fanout_mem
        c["addr_macs"] = 2 * spikes if shape.conv else 0.0
        c["read_in_bytes"] = spikes * w
        c["read_params_bytes"] = spikes * shape.fanout_mem * w
        c["read_potential_bytes"] = c["write_potential_bytes"] = spikes * shape.fanout_mem * w
        analog_macs = row.analog_outputs * shape.weights_per_output
        c["op_macs"] = analog_macs
        c["addr_acs"] += row.analog_inputs + row.analog_outputs + row.analog_rows * shape.kernel_outputs
        c["read_in_bytes"] += (analog_macs if shape.conv else row.analog_inputs) * w
        c["read_params_bytes"] += analog_macs * w
        if not network_spiking:
            c["write_out_bytes"] = row.analog_outputs * w
        if shape.has_bias:
            c["op_acs"] += row.synapse_outputs
            c["read_params_bytes"] += row.synapse_outputs * w
        return c

    def price(self, row, shape: LayerShape | None, network_spiking: bool) -> dict[str, float]:
        """``compute_pj``, ``addressing_pj``, ``memory_pj``, ``energy_pj`` and the counts of one row."""
        c = self.counts(row, shape, network_spiking)
        compute = c["op_macs"] * self.e_mac_pj + c["op_acs"] * self.e_ac_pj
        addressing = c["addr_macs"] * self.e_mac_pj + c["addr_acs"] * self.e_ac_pj
        memory = 0.0
        if shape is not None and shape.priced:
            w = WORD_BYTES
            fifo = self.fifo_elements * w
            spikes_in = row.spike_inputs * w if row.kind == "synapse" else 0.0
            if row.kind == "synapse":
                analog_in = c["read_in_bytes"] - spikes_in
                memory += spikes_in * self.sram_pj_per_byte(fifo)
                memory += analog_in * self.sram_pj_per_byte(shape.sample_in * w)
                memory += c["read_params_bytes"] * self.sram_pj_per_byte(shape.params * w)
                memory += c["write_out_bytes"] * self.sram_pj_per_byte(shape.sample_out * w)
            else:  # neuron: spikes out to the next FIFO
                memory += c["write_out_bytes"] * self.sram_pj_per_byte(fifo)
            potential = c["read_potential_bytes"] + c["write_potential_bytes"]
            memory += potential * self.sram_pj_per_byte(shape.sample_out * w)
        return dict(c, compute_pj=compute, addressing_pj=addressing, memory_pj=memory,
                    energy_pj=compute + addressing + memory)


LEMAIRE_2022 = LemaireModel()
