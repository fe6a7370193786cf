"""The model card's markdown tables, rendered from run logs and evaluator JSON
(training/render_*.py, training/compute_spent.py)."""
