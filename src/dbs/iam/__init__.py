"""RAM-style access control: policy grammar and evaluator, ARNs, system policies,
principals and audit (see docs/iam.md)."""
