"""Temporary uploads: getPolicy, the OSS PostObject upload it allows, and ``oss://`` inputs."""
