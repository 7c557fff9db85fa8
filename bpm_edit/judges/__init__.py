"""The two judges of BPM: `region.RegionJudge` (size, position) and
`semantic.SemanticJudge` (directional CLIP modification, L2 preservation)."""
