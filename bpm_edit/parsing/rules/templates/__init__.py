"""Sentence templates of the rules parser, one module per construction family.

`readings` holds what a template answers and the shared readers (`change`, `add`, `move`,
`removal`, ...); the cascade that tries the templates in order is in `../parser.py`.
"""
