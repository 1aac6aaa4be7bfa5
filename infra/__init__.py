"""What runs and shapes the local environment: migrations, the stack launcher, the event pump, demo data."""
