"""What espeak-ng's Mandarin voice says, as phonemes: stable where its audio is not (its samples
differ a little from call to call)."""

import subprocess


def phonemes(text: str) -> str:
    """`espeak-ng -v cmn -x -q TEXT`: the phonemes, with tones, of what the voice says."""
    done = subprocess.run(["espeak-ng", "-v", "cmn", "-x", "-q", text], capture_output=True, text=True, check=True)
    return done.stdout.strip()
