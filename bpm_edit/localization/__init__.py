"""Where the edit is: `Localizer` (detector boxes + segmenter masks) produces `Regions`."""
