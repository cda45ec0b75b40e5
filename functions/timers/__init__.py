"""Arming a wake-up: an SQS delay within 15 minutes, an EventBridge one-time schedule beyond."""
