"""The task lifecycle: plans, queues and the state a query sees, all read off one clock."""
