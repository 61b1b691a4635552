"""The small shared kernel every zuofeng service builds on.

Settings, database sessions, the CloudEvents envelope and typed contracts, the transactional outbox and
its relay, the consumer loop, problem+json errors, JSON logging, metrics and the gateway-signed identity.
Services share nothing else.
"""
