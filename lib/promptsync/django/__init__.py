"""promptsync's Django app: add "promptsync.django" to INSTALLED_APPS for the management
commands the team already types (copy_prompts_to_staging, copy_prompts_to_production,
verify_prompts). They call promptsync.api, with the same configuration (environment variables
or .env), output, confirmation and exit codes as `promptsync sync` and `promptsync verify`.

Only this subpackage imports Django; promptsync itself never does."""
