"""The offline rules parser: `parser.RulesParser`, its `grammar` and `lexicon`, and the
sentence `templates` it tries in order."""
