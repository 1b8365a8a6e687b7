"""The engine: pipeline state machine, action providers, stores for objects, logs and events."""
