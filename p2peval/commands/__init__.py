"""CLI command modules: each has HELP, EXAMPLES, add_arguments(parser) and run(args)."""
