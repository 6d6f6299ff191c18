"""Seeded synthetic IMU windows in raw sensor units, [100, 9] at 100 Hz.

Channels: ax ay az (m/s^2), gx gy gz (rad/s), mx my mz (uT). Each pattern is a plausible
physical signal (gravity plus body motion, rotation rates, the earth's field seen from a
rotating device), so that the z-score of the facts file maps it to roughly unit scale.
"""
from __future__ import annotations

import numpy as np

from common import NORM_MEAN, NORM_STD

PATTERNS = ("stationary", "walking", "running", "cycling", "mixed")
SEQ_LEN = 100
RATE_HZ = 100.0
GRAVITY = 9.81
# The field's mean matches the normalization mean; heading changes spread it like the std.
EARTH_FIELD = np.array([22.4, -8.7, 43.2])


def _rotation(rng: np.random.Generator, max_tilt: float) -> np.ndarray:
    """A random device orientation: any heading, tilt up to max_tilt radians."""
    yaw = rng.uniform(-np.pi, np.pi)
    pitch, roll = rng.uniform(-max_tilt, max_tilt, size=2)
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return rz @ ry @ rx


def _base(rng: np.random.Generator, max_tilt: float, mag_spread: float) -> tuple[np.ndarray, np.ndarray]:
    r = _rotation(rng, max_tilt)
    gravity = r.T @ np.array([0.0, 0.0, GRAVITY])
    field = EARTH_FIELD + rng.normal(0.0, mag_spread, size=3)
    return gravity, field


def _periodic(rng: np.random.Generator, t: np.ndarray, freq: float, amps: np.ndarray) -> np.ndarray:
    """Sum of a fundamental and a second harmonic per axis, random phases: [T, len(amps)]."""
    out = np.zeros((t.size, amps.size))
    for k, a in enumerate(amps):
        ph1, ph2 = rng.uniform(0, 2 * np.pi, size=2)
        out[:, k] = a * (np.sin(2 * np.pi * freq * t + ph1) + 0.3 * np.sin(4 * np.pi * freq * t + ph2))
    return out


def _motion(rng: np.random.Generator, t: np.ndarray, freq: tuple[float, float], acc_amp: tuple[float, float],
            gyro_amp: tuple[float, float], tilt: float, noise: float) -> np.ndarray:
    gravity, field = _base(rng, tilt, 22.0)
    f = rng.uniform(*freq)
    acc = gravity + _periodic(rng, t, f, rng.uniform(*acc_amp, size=3) * np.array([0.6, 0.4, 1.0]))
    gyro = _periodic(rng, t, f / 2, rng.uniform(*gyro_amp, size=3))
    # The heading oscillates with the gait, so the magnetometer swings around the field.
    mag = field + _periodic(rng, t, f / 2, rng.uniform(2.0, 6.0, size=3))
    w = np.concatenate([acc, gyro, mag], axis=1)
    return w + rng.normal(0.0, noise, size=w.shape) * np.array([1, 1, 1, 0.2, 0.2, 0.2, 5, 5, 5])


def _stationary(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    gravity, field = _base(rng, 0.6, 22.0)
    w = np.tile(np.concatenate([gravity, np.zeros(3), field]), (t.size, 1))
    return w + rng.normal(0.0, 1.0, size=w.shape) * np.array([0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.4, 0.4, 0.4])


def window(pattern: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(SEQ_LEN) / RATE_HZ
    if pattern == "stationary":
        w = _stationary(rng, t)
    elif pattern == "walking":
        w = _motion(rng, t, (1.6, 2.2), (1.5, 4.0), (0.4, 1.5), 0.3, 0.15)
    elif pattern == "running":
        w = _motion(rng, t, (2.5, 3.2), (6.0, 12.0), (1.5, 4.0), 0.4, 0.4)
    elif pattern == "cycling":
        # Leaning forward on the bars; pedalling cadence rocks the device, road vibration on top.
        w = _motion(rng, t, (1.0, 1.6), (0.5, 1.5), (0.2, 0.8), 0.9, 0.6)
    elif pattern == "mixed":
        # Standing still, then starting to walk at a random moment inside the window.
        w = _stationary(rng, t)
        split = int(rng.integers(20, 80))
        w[split:] = _motion(rng, t, (1.6, 2.2), (1.5, 4.0), (0.4, 1.5), 0.3, 0.15)[split:]
    else:
        raise ValueError(f"unknown pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    return w.astype(np.float32)


def generate(n: int, seed: int, patterns: tuple[str, ...] = PATTERNS) -> tuple[np.ndarray, list[str]]:
    """n windows [n, 100, 9] float32 with a balanced, shuffled class mix."""
    rng = np.random.default_rng(seed)
    labels = [patterns[i % len(patterns)] for i in range(n)]
    rng.shuffle(labels)
    windows = np.stack([window(p, rng) for p in labels]) if n else np.zeros((0, SEQ_LEN, 9), np.float32)
    return windows, labels


PROBE_SEED = 20240611


def probe_windows() -> list[tuple[str, np.ndarray]]:
    """The fixed probe set of every export: zeros, stationary, walking, running, random.

    Rounded to 4 decimals so that the JSON copy of a window is exactly what PyTorch saw.
    """
    rng = np.random.default_rng(PROBE_SEED)
    mean, std = np.array(NORM_MEAN), np.array(NORM_STD)
    probes = [("zeros", np.zeros((SEQ_LEN, 9)))]
    for name in ("stationary", "walking", "running"):
        probes.append((name, window(name, rng)))
    probes.append(("random", mean + std * rng.standard_normal((SEQ_LEN, 9))))
    return [(name, np.round(np.asarray(w, dtype=np.float64), 4)) for name, w in probes]
