"""Feeding a CUDA session without pageable copies: pinned host staging, device input bound by IO binding.

``session.run`` with a numpy batch makes ONNX Runtime copy it from pageable memory, synchronously,
inside the call. Here each batch is copied into a page-locked buffer (reused while the batch shape
stays), uploaded with a non-blocking copy, and bound as the session's device input; the output is
left on the GPU and copied back once. Needs torch with CUDA (the same CUDA 13 build ORT loads).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class PinnedCudaFeeder:
    """Runs one ORT CUDA session on host batches through pinned buffers and IO binding."""

    def __init__(self, session: Any, input_name: str, output_name: str, device_id: int = 0) -> None:
        import torch

        self.torch = torch
        self.session = session
        self.input_name, self.output_name = input_name, output_name
        self.device = torch.device("cuda", device_id)
        self.pinned: torch.Tensor | None = None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The session's first output for ``batch`` (a contiguous float array), as numpy."""
        torch = self.torch
        source = torch.from_numpy(np.ascontiguousarray(batch))
        if self.pinned is None or self.pinned.shape != source.shape or self.pinned.dtype != source.dtype:
            self.pinned = torch.empty(source.shape, dtype=source.dtype, pin_memory=True)
        self.pinned.copy_(source)
        on_device = self.pinned.to(self.device, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()  # ORT runs on its own stream: the upload must be done
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, "cuda", self.device.index, batch.dtype, tuple(on_device.shape),
                           on_device.data_ptr())
        binding.bind_output(self.output_name, "cuda", self.device.index)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]
