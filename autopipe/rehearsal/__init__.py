"""The offline rehearsal: AWS emulated in-process (moto + a rollout engine), the seed's
resources, and a smoke target (the real container via `autopipe local`, or a stand-in)."""
