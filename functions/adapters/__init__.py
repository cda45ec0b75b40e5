"""Backends behind the ports: `aws` (DynamoDB, SQS, EventBridge Scheduler) and `sqlite`
(the embedded engine of `duetime dev`)."""
