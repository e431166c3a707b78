"""Orchestration of the hzz4l analysis: filesets, demo samples, executors, outputs, CLI, plot style."""

from __future__ import annotations
