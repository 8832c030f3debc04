"""Write static/sound/ring.wav: the workspace ringtone (two soft chime notes, then a pause).

Made here with the standard library, so the project owns its sound. Run from the repo root:
    .venv/bin/python scripts/make_ringtone.py
"""

import math
import struct
import wave
from pathlib import Path

RATE = 16000
OUT = Path(__file__).resolve().parent.parent / "static" / "sound" / "ring.wav"


def note(freq: float, seconds: float, volume: float = 0.35) -> list[int]:
    samples = []
    for i in range(int(RATE * seconds)):
        t = i / RATE
        # A quick attack and an exponential decay: a chime, not a beep.
        envelope = min(1.0, t / 0.01) * math.exp(-4.0 * t / seconds)
        wave_ = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(2 * math.pi * 2 * freq * t)
        samples.append(int(max(-1.0, min(1.0, volume * envelope * wave_)) * 32767))
    return samples


def silence(seconds: float) -> list[int]:
    return [0] * int(RATE * seconds)


def main() -> None:
    frames = note(880, 0.28) + silence(0.05) + note(660, 0.45) + silence(0.6)
    with wave.open(str(OUT), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"".join(struct.pack("<h", s) for s in frames))
    print(f"wrote {OUT} ({len(frames) / RATE:.2f} s)")


if __name__ == "__main__":
    main()
