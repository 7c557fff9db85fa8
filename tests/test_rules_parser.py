"""The rules parser: every edit type, tricky phrasings, bad input, the dev set.

`GENERALISATION` holds our own realistic instructions in the styles of MagicBrush,
InstructPix2Pix, I2EBench, EmuEdit and PIE-Bench (written before the parser was run on
them, labelled by the conventions of shared/data/README.md), so the grammar is checked
on phrasings beyond the dev file. Each case is scored with the eval-parser rules.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bpm_edit.parsing.base import InstructionParser
from bpm_edit.parsing.evaluation import (
    THRESHOLDS,
    ParserCase,
    evaluate_parser,
    load_cases,
    score_case,
)
from bpm_edit.parsing.rules import MAX_CHARS, RulesParser
from bpm_edit.spec import EditSpec

PARSER = RulesParser()
DEV_CASES = Path(__file__).resolve().parents[2] / "shared" / "data" / "instruction_cases_dev.jsonl"

# (instruction, edit_type, source, target, reference, size_change, position_change)
GENERALISATION = [
    # MagicBrush / InstructPix2Pix style
    ('Let the cat wear a hat', 'add', None, 'hat', 'cat', 'unchanged', 'inside'),
    ('Have the man hold an umbrella', 'add', None, 'umbrella', 'man', 'unchanged', 'inside'),
    ('Make the sky pink', 'color', 'sky', 'sky', None, 'unchanged', 'unchanged'),
    ('Put a pizza on the table', 'add', None, 'pizza', 'table', 'unchanged', 'inside'),
    ('Change the dog to a cat', 'replace', 'dog', 'cat', None, 'unchanged', 'unchanged'),
    ('What if the bus was red?', 'color', 'bus', 'bus', None, 'unchanged', 'unchanged'),
    ('Let there be a rainbow in the sky', 'add', None, 'rainbow', 'sky', 'unchanged', 'inside'),
    ('Remove the bicycle', 'remove', 'bicycle', None, None, 'unchanged', 'none'),
    ('The man should be wearing sunglasses',
     'add', None, 'sunglasses', 'man', 'unchanged', 'inside'),
    ('Make the bed a couch', 'replace', 'bed', 'couch', None, 'unchanged', 'unchanged'),
    ('Add a vase of flowers to the table',
     'add', None, 'vase of flowers', 'table', 'unchanged', 'inside'),
    ('Turn the cake into a pie', 'replace', 'cake', 'pie', None, 'unchanged', 'unchanged'),
    ('Change the color of the car to blue', 'color', 'car', 'car', None, 'unchanged', 'unchanged'),
    ('Get rid of the clouds', 'remove', 'clouds', None, None, 'unchanged', 'none'),
    ('Put a bird on the fence', 'add', None, 'bird', 'fence', 'unchanged', 'inside'),
    ('Make the stop sign a yield sign',
     'replace', 'stop sign', 'yield sign', None, 'unchanged', 'unchanged'),
    ('Could there be a clock on the wall?', 'add', None, 'clock', 'wall', 'unchanged', 'inside'),
    ('Give the dog a bone', 'add', None, 'bone', 'dog', 'unchanged', 'inside'),
    ('Make the horse a zebra', 'replace', 'horse', 'zebra', None, 'unchanged', 'unchanged'),
    ('What if the woman had a red hat?', 'add', None, 'red hat', 'woman', 'unchanged', 'inside'),
    ('the dog should be sitting', 'action', 'dog', 'dog', None, 'unchanged', 'unchanged'),
    ('Make the boy jump', 'action', 'boy', 'boy', None, 'unchanged', 'unchanged'),
    ('Move the vase to the left side of the table',
     'move', 'vase', 'vase', 'table', 'unchanged', 'left'),
    ('Put the laptop next to the lamp', 'move', 'laptop', 'laptop', 'lamp', 'unchanged', 'near'),
    ('Make the car smaller', 'size', 'car', 'car', None, 'smaller', 'unchanged'),
    ('Enlarge the moon', 'size', 'moon', 'moon', None, 'larger', 'unchanged'),
    ('Make the tree twice as tall', 'size', 'tree', 'tree', None, 'larger', 'unchanged'),
    ('Shrink the elephant', 'size', 'elephant', 'elephant', None, 'smaller', 'unchanged'),
    ('Increase the size of the sun', 'size', 'sun', 'sun', None, 'larger', 'unchanged'),
    ('Make it nighttime', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Turn it into a watercolor painting',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make it look like a Van Gogh painting',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make it snow', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Convert the photo to black and white',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Change the background to a beach',
     'background', 'background', 'beach', None, 'unchanged', 'unchanged'),
    ('Replace the background with a city skyline',
     'background', 'background', 'city skyline', None, 'unchanged', 'unchanged'),
    ('Put the dog on a beach', 'background', 'background', 'beach', None, 'unchanged', 'unchanged'),
    ('Paint the fence white', 'color', 'fence', 'fence', None, 'unchanged', 'unchanged'),
    ('Make the table wooden', 'texture', 'table', 'table', None, 'unchanged', 'unchanged'),
    ('Turn the statue into gold', 'texture', 'statue', 'statue', None, 'unchanged', 'unchanged'),
    ('Make the shirt out of denim', 'texture', 'shirt', 'shirt', None, 'unchanged', 'unchanged'),
    ('The cup should be made of glass', 'texture', 'cup', 'cup', None, 'unchanged', 'unchanged'),
    ('Change the wall to brick', 'texture', 'wall', 'wall', None, 'unchanged', 'unchanged'),
    ('Erase the text on the sign', 'remove', 'text', None, None, 'unchanged', 'none'),
    ('Delete the person in the background', 'remove', 'person', None, None, 'unchanged', 'none'),
    ('Take the hat off the man', 'remove', 'hat', None, None, 'unchanged', 'none'),
    ('There should be no people on the beach', 'remove', 'people', None, None, 'unchanged', 'none'),
    ('Swap the apple for an orange', 'replace', 'apple', 'orange', None, 'unchanged', 'unchanged'),
    ('Exchange the car for a truck', 'replace', 'car', 'truck', None, 'unchanged', 'unchanged'),
    ('Substitute a lion for the tiger', 'replace', 'tiger', 'lion', None, 'unchanged', 'unchanged'),
    ('Switch the cat with a rabbit', 'replace', 'cat', 'rabbit', None, 'unchanged', 'unchanged'),
    ('Put a hat on the dog', 'add', None, 'hat', 'dog', 'unchanged', 'inside'),
    ('Add a boat on the lake', 'add', None, 'boat', 'lake', 'unchanged', 'inside'),
    ('Add a moon above the mountains', 'add', None, 'moon', 'mountains', 'unchanged', 'up'),
    ('Add a dog under the table', 'add', None, 'dog', 'table', 'unchanged', 'down'),
    ('Add a cat next to the chair', 'add', None, 'cat', 'chair', 'unchanged', 'near'),
    ('Add a lamp beside the bed', 'add', None, 'lamp', 'bed', 'unchanged', 'near'),
    ('Place a candle in front of the mirror', 'add', None, 'candle', 'mirror', 'unchanged', 'near'),
    ('Add a kite in the sky', 'add', None, 'kite', 'sky', 'unchanged', 'inside'),
    ('Add sunglasses to the woman', 'add', None, 'sunglasses', 'woman', 'unchanged', 'inside'),
    ('Add a man riding a horse', 'add', None, 'man', None, 'unchanged', 'none'),
    ('Make the woman smile', 'action', 'woman', 'woman', None, 'unchanged', 'unchanged'),
    ('Have the cat sleep on the couch', 'action', 'cat', 'cat', None, 'unchanged', 'unchanged'),
    ('The dog is running', 'action', 'dog', 'dog', None, 'unchanged', 'unchanged'),
    ('Make the bird fly away', 'action', 'bird', 'bird', None, 'unchanged', 'unchanged'),
    ("Change the girl's hair color to blonde",
     'color', "girl's hair", "girl's hair", None, 'unchanged', 'unchanged'),
    ("Make the dog's fur brown", 'color', "dog's fur", "dog's fur", None, 'unchanged', 'unchanged'),
    ('Make the apple on the left green', 'color', 'apple', 'apple', None, 'unchanged', 'unchanged'),
    ('Replace the man on the right with a robot',
     'replace', 'man', 'robot', None, 'unchanged', 'unchanged'),
    ('Turn the left chair into a sofa', 'replace', 'chair', 'sofa', None, 'unchanged', 'unchanged'),
    ('Make the large bowl smaller', 'size', 'bowl', 'bowl', None, 'smaller', 'unchanged'),
    ('Change the season to winter', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ("Make it look like it's raining",
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Change the weather to sunny', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Move the boat to the right', 'move', 'boat', 'boat', None, 'unchanged', 'right'),
    ('Move the ball up', 'move', 'ball', 'ball', None, 'unchanged', 'up'),
    ('Shift the car slightly to the left', 'move', 'car', 'car', None, 'unchanged', 'left'),
    ('Place the cat under the table', 'move', 'cat', 'cat', 'table', 'unchanged', 'down'),
    ('Move the clock above the door', 'move', 'clock', 'clock', 'door', 'unchanged', 'up'),
    ('Make her hair red', 'color', 'her hair', 'her hair', None, 'unchanged', 'unchanged'),
    ('Add fireworks to the sky', 'add', None, 'fireworks', 'sky', 'unchanged', 'inside'),
    ('Transform the house into a castle',
     'replace', 'house', 'castle', None, 'unchanged', 'unchanged'),
    ('Change the red car into a blue car', 'color', 'car', 'car', None, 'unchanged', 'unchanged'),
    ('Let the car be a taxi', 'replace', 'car', 'taxi', None, 'unchanged', 'unchanged'),
    ('What if the dog was a wolf?', 'replace', 'dog', 'wolf', None, 'unchanged', 'unchanged'),
    ('What if it were winter?', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Put a crown on her head', 'add', None, 'crown', 'her head', 'unchanged', 'inside'),
    ('I want a dog on the sofa', 'add', None, 'dog', 'sofa', 'unchanged', 'inside'),
    ('There should be a dog sitting on the grass',
     'add', None, 'dog', 'grass', 'unchanged', 'inside'),
    ('Make the boat bigger than the dock', 'size', 'boat', 'boat', None, 'larger', 'unchanged'),
    ('Draw a mustache on the man', 'add', None, 'mustache', 'man', 'unchanged', 'inside'),
    ('Decorate the cake with strawberries',
     'add', None, 'strawberries', 'cake', 'unchanged', 'inside'),
    ('Fill the bowl with apples', 'add', None, 'apples', 'bowl', 'unchanged', 'inside'),
    ('Recolor the door to green', 'color', 'door', 'door', None, 'unchanged', 'unchanged'),
    ('Dye the dress purple', 'color', 'dress', 'dress', None, 'unchanged', 'unchanged'),
    ('Make the building taller', 'size', 'building', 'building', None, 'larger', 'unchanged'),
    ("Change the tiger's stripes to spots",
     'replace', "tiger's stripes", 'spots', None, 'unchanged', 'unchanged'),
    ('Add a reflection of the tree in the water',
     'add', None, 'reflection of the tree', 'water', 'unchanged', 'inside'),
    ('Put the book inside the bag', 'move', 'book', 'book', 'bag', 'unchanged', 'inside'),
    ('Remove all the people', 'remove', 'people', None, None, 'unchanged', 'none'),
    ('Make the cat look surprised', 'action', 'cat', 'cat', None, 'unchanged', 'unchanged'),
    ('Replace the trees with palm trees',
     'replace', 'trees', 'palm trees', None, 'unchanged', 'unchanged'),
    ('Change the daytime scene to night',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Give the picture a vintage look',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Apply a sepia filter', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Add a vintage filter to the photo',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make the photo look like a pencil sketch',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Render the scene in the style of Monet',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('In the style of Picasso', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('as a cartoon', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make the image brighter', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('The sky should be cloudy', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make the cat on the table black', 'color', 'cat', 'cat', None, 'unchanged', 'unchanged'),
    ('Replace the cup on the desk with a bottle',
     'replace', 'cup', 'bottle', None, 'unchanged', 'unchanged'),
    ('Remove the red car parked on the street',
     'remove', 'red car', None, None, 'unchanged', 'none'),
    ('Add a hat to the man on the left', 'add', None, 'hat', 'man', 'unchanged', 'inside'),
    ('Enlarge the dog on the right', 'size', 'dog', 'dog', None, 'larger', 'unchanged'),
    ('Make the car yellow and black', 'color', 'car', 'car', None, 'unchanged', 'unchanged'),
    ('Make the flowers purple instead of red',
     'color', 'flowers', 'flowers', None, 'unchanged', 'unchanged'),
    ('Erase the graffiti from the wall', 'remove', 'graffiti', None, None, 'unchanged', 'none'),
    ('Let the horse be white', 'color', 'horse', 'horse', None, 'unchanged', 'unchanged'),
    ('It should be winter', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Have it be sunset', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make the girl dance', 'action', 'girl', 'girl', None, 'unchanged', 'unchanged'),
    ('Have the man wave his hand', 'action', 'man', 'man', None, 'unchanged', 'unchanged'),
    ('The woman should be holding a baby', 'add', None, 'baby', 'woman', 'unchanged', 'inside'),
    ('Change the setting from a forest to a desert',
     'background', 'setting', 'desert', None, 'unchanged', 'unchanged'),
    ('Change the color of the bird from blue to red',
     'color', 'bird', 'bird', None, 'unchanged', 'unchanged'),
    ("Make the woman's dress green",
     'color', "woman's dress", "woman's dress", None, 'unchanged', 'unchanged'),
    ('Add a crown to the lion', 'add', None, 'crown', 'lion', 'unchanged', 'inside'),
    ('Replace the bowl of fruit with a pizza',
     'replace', 'bowl of fruit', 'pizza', None, 'unchanged', 'unchanged'),
    ('Change the background to a snowy mountain',
     'background', 'background', 'snowy mountain', None, 'unchanged', 'unchanged'),
    ('Remove the rain', 'remove', 'rain', None, None, 'unchanged', 'none'),
    ('Place two pillows on the couch', 'add', None, 'two pillows', 'couch', 'unchanged', 'inside'),
    ('Put a lamp on the right side of the desk', 'add', None, 'lamp', 'desk', 'unchanged', 'right'),
    ('Add a painting to the left of the window',
     'add', None, 'painting', 'window', 'unchanged', 'left'),
    ('add a bird on top of the car', 'add', None, 'bird', 'car', 'unchanged', 'up'),
    ('Put a rug below the table', 'add', None, 'rug', 'table', 'unchanged', 'down'),
    ('Remove the lamp next to the bed', 'remove', 'lamp', None, None, 'unchanged', 'none'),
    ('Make the elephant pink', 'color', 'elephant', 'elephant', None, 'unchanged', 'unchanged'),
    ('Could you please turn the apples into oranges?',
     'replace', 'apples', 'oranges', None, 'unchanged', 'unchanged'),
    ("I'd like the cat to be orange", 'color', 'cat', 'cat', None, 'unchanged', 'unchanged'),
    ('the trees should be covered in snow',
     'texture', 'trees', 'trees', None, 'unchanged', 'unchanged'),
    ('Give the bear bigger claws',
     'size', "bear's claws", "bear's claws", None, 'larger', 'unchanged'),
    # I2EBench 'diverse' paraphrases, EmuEdit, photographic edits
    ('Eradicate the bench from the picture', 'remove', 'bench', None, None, 'unchanged', 'none'),
    ('Make the umbrella vanish', 'remove', 'umbrella', None, None, 'unchanged', 'none'),
    ('I want the car gone', 'remove', 'car', None, None, 'unchanged', 'none'),
    ('Please ensure that no birds appear in the image',
     'remove', 'birds', None, None, 'unchanged', 'none'),
    ('Could you wipe out the trash can?', 'remove', 'trash can', None, None, 'unchanged', 'none'),
    ('The image should not contain any dogs', 'remove', 'dogs', None, None, 'unchanged', 'none'),
    ('Replace the clock with a mirror, please',
     'replace', 'clock', 'mirror', None, 'unchanged', 'unchanged'),
    ('Alter the kettle so that it becomes a teapot',
     'replace', 'kettle', 'teapot', None, 'unchanged', 'unchanged'),
    ('Have the umbrella replaced by a parasol',
     'replace', 'umbrella', 'parasol', None, 'unchanged', 'unchanged'),
    ('Recolor the balloon to a vibrant orange',
     'color', 'balloon', 'balloon', None, 'unchanged', 'unchanged'),
    ('Tint the river a deep shade of purple',
     'color', 'river', 'river', None, 'unchanged', 'unchanged'),
    ('Give the door a coat of red paint', 'color', 'door', 'door', None, 'unchanged', 'unchanged'),
    ('Render the sky in shades of orange', 'color', 'sky', 'sky', None, 'unchanged', 'unchanged'),
    ('Switch the backdrop to a snowy forest',
     'background', 'backdrop', 'snowy forest', None, 'unchanged', 'unchanged'),
    ('Set the scene in outer space',
     'background', 'background', 'outer space', None, 'unchanged', 'unchanged'),
    ('Make the weather stormy', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Apply an impressionist style to the picture',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Reimagine the photo as a pixel art piece',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Give this image a cyberpunk aesthetic',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Turn the wooden table into a glass table',
     'texture', 'table', 'table', None, 'unchanged', 'unchanged'),
    ('Make the sweater woolen', 'texture', 'sweater', 'sweater', None, 'unchanged', 'unchanged'),
    ('Change the material of the chair to leather',
     'texture', 'chair', 'chair', None, 'unchanged', 'unchanged'),
    ('The bag should look like it is made of denim',
     'texture', 'bag', 'bag', None, 'unchanged', 'unchanged'),
    ('Make the bench look metallic', 'texture', 'bench', 'bench', None, 'unchanged', 'unchanged'),
    ('Double the size of the pumpkin', 'size', 'pumpkin', 'pumpkin', None, 'larger', 'unchanged'),
    ('Make the dog twice as big', 'size', 'dog', 'dog', None, 'larger', 'unchanged'),
    ('Reduce the size of the clock', 'size', 'clock', 'clock', None, 'smaller', 'unchanged'),
    ('Scale down the truck', 'size', 'truck', 'truck', None, 'smaller', 'unchanged'),
    ('Make the tower much taller', 'size', 'tower', 'tower', None, 'larger', 'unchanged'),
    ('Make the kitten tiny', 'size', 'kitten', 'kitten', None, 'smaller', 'unchanged'),
    ('Put a frog on the leaf', 'add', None, 'frog', 'leaf', 'unchanged', 'inside'),
    ('Add a rainbow behind the castle', 'add', None, 'rainbow', 'castle', 'unchanged', 'near'),
    ('Insert a boat between the rocks', 'add', None, 'boat', 'rocks', 'unchanged', 'near'),
    ('Add a small dog at the feet of the woman',
     'add', None, 'small dog', 'woman', 'unchanged', 'down'),
    ('Place a lantern on the left of the doorway',
     'add', None, 'lantern', 'doorway', 'unchanged', 'left'),
    ('add a clock to the wall above the fireplace',
     'add', None, 'clock', 'wall', 'unchanged', 'inside'),
    ('Add two birds flying over the lake', 'add', None, 'two birds', 'lake', 'unchanged', 'up'),
    ('Move the dog closer to the cat', 'move', 'dog', 'dog', 'cat', 'unchanged', 'near'),
    ('Move the painting higher', 'move', 'painting', 'painting', None, 'unchanged', 'up'),
    ('Slide the mug to the right edge of the table',
     'move', 'mug', 'mug', 'table', 'unchanged', 'right'),
    ('Relocate the plant beside the sofa', 'move', 'plant', 'plant', 'sofa', 'unchanged', 'near'),
    ('Make the man raise his arms', 'action', 'man', 'man', None, 'unchanged', 'unchanged'),
    ('Have the dog look at the camera', 'action', 'dog', 'dog', None, 'unchanged', 'unchanged'),
    ('Make the children laugh', 'action', 'children', 'children', None, 'unchanged', 'unchanged'),
    ('The horse should be galloping', 'action', 'horse', 'horse', None, 'unchanged', 'unchanged'),
    ('Let the girl wave', 'action', 'girl', 'girl', None, 'unchanged', 'unchanged'),
    ('What if the building was made of glass?',
     'texture', 'building', 'building', None, 'unchanged', 'unchanged'),
    ('What if the sky was green?', 'color', 'sky', 'sky', None, 'unchanged', 'unchanged'),
    ('What if there were two moons?', 'add', None, 'two moons', None, 'unchanged', 'none'),
    ('What if the man wore a cowboy hat?', 'add', None, 'cowboy hat', 'man', 'unchanged', 'inside'),
    ('Turn the grass into sand', 'texture', 'grass', 'grass', None, 'unchanged', 'unchanged'),
    ('Turn the road into a river', 'replace', 'road', 'river', None, 'unchanged', 'unchanged'),
    ('Change the coffee cup to a red mug',
     'replace', 'coffee cup', 'red mug', None, 'unchanged', 'unchanged'),
    ('Remove the shadows', 'remove', 'shadows', None, None, 'unchanged', 'none'),
    ('Brighten the image', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make the image less blurry', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Increase the brightness of the photo',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ("Change the boy's shirt to a jacket",
     'replace', "boy's shirt", 'jacket', None, 'unchanged', 'unchanged'),
    ("Make the boy's shirt striped",
     'texture', "boy's shirt", "boy's shirt", None, 'unchanged', 'unchanged'),
    ('Give the vase a marble texture', 'texture', 'vase', 'vase', None, 'unchanged', 'unchanged'),
    ('Alter the surface of the table to resemble wood',
     'texture', 'table', 'table', None, 'unchanged', 'unchanged'),
    ('Transform the image into a Pixar-style animation',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Reinterpret the photograph as a charcoal sketch',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Envision this scene as a Monet masterpiece',
     'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Swap out the current setting for a bustling city street',
     'background', 'setting', 'city street', None, 'unchanged', 'unchanged'),
    ('Situate the subject within a tropical rainforest',
     'background', 'background', 'tropical rainforest', None, 'unchanged', 'unchanged'),
    ('Alter the hue of the umbrella to a vivid yellow',
     'color', 'umbrella', 'umbrella', None, 'unchanged', 'unchanged'),
    ('Imbue the cushion with a deep crimson hue',
     'color', 'cushion', 'cushion', None, 'unchanged', 'unchanged'),
    ('Let the car be painted blue', 'color', 'car', 'car', None, 'unchanged', 'unchanged'),
    ('Supplant the chair with a stool',
     'replace', 'chair', 'stool', None, 'unchanged', 'unchanged'),
    ('Have a stool take the place of the chair',
     'replace', 'chair', 'stool', None, 'unchanged', 'unchanged'),
    ('Instead of the chair, show a stool',
     'replace', 'chair', 'stool', None, 'unchanged', 'unchanged'),
    ('Put a stool where the chair is', 'replace', 'chair', 'stool', None, 'unchanged', 'unchanged'),
    ('Darken the sky', 'color', 'sky', 'sky', None, 'unchanged', 'unchanged'),
    ('Make the lights brighter', 'color', 'lights', 'lights', None, 'unchanged', 'unchanged'),
    ('give the woman a necklace', 'add', None, 'necklace', 'woman', 'unchanged', 'inside'),
    ('Put sunglasses on the dog', 'add', None, 'sunglasses', 'dog', 'unchanged', 'inside'),
    ('have the cat sit on a pillow', 'action', 'cat', 'cat', None, 'unchanged', 'unchanged'),
    ('The ball should be on the left of the dog',
     'move', 'ball', 'ball', 'dog', 'unchanged', 'left'),
    ('Put the cup to the right of the plate', 'move', 'cup', 'cup', 'plate', 'unchanged', 'right'),
    ('Drop a leaf on the ground', 'add', None, 'leaf', 'ground', 'unchanged', 'inside'),
    ('Hang a picture above the couch', 'add', None, 'picture', 'couch', 'unchanged', 'up'),
    ('Make the shoes from leather', 'texture', 'shoes', 'shoes', None, 'unchanged', 'unchanged'),
    ('Make the fence made of stone', 'texture', 'fence', 'fence', None, 'unchanged', 'unchanged'),
    ('Turn the man into a statue', 'replace', 'man', 'statue', None, 'unchanged', 'unchanged'),
    ('Turn the cat black', 'color', 'cat', 'cat', None, 'unchanged', 'unchanged'),
    ('Make her dress longer', 'size', 'her dress', 'her dress', None, 'larger', 'unchanged'),
    ('Make the dog on the right a cat', 'replace', 'dog', 'cat', None, 'unchanged', 'unchanged'),
    ('Remove the man holding an umbrella', 'remove', 'man', None, None, 'unchanged', 'none'),
    ('Remove the woman with the red hat', 'remove', 'woman', None, None, 'unchanged', 'none'),
    ('Replace the glass of water with a cup of coffee',
     'replace', 'glass of water', 'cup of coffee', None, 'unchanged', 'unchanged'),
    ("Change the bird's feathers to blue",
     'color', "bird's feathers", "bird's feathers", None, 'unchanged', 'unchanged'),
    ('Add a pair of glasses to the man', 'add', None, 'glasses', 'man', 'unchanged', 'inside'),
    ('Add a flock of birds in the sky', 'add', None, 'birds', 'sky', 'unchanged', 'inside'),
    ('Let there be snow on the ground', 'add', None, 'snow', 'ground', 'unchanged', 'inside'),
    ('make it winter', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('make it a sunny day', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('turn the photo into a sketch', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('make it in the 1920s', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    # InstructPix2Pix-style free phrasing
    ('have the dog wear a tie', 'add', None, 'tie', 'dog', 'unchanged', 'inside'),
    ('make the sky a galaxy', 'replace', 'sky', 'galaxy', None, 'unchanged', 'unchanged'),
    ('turn the man into a robot', 'replace', 'man', 'robot', None, 'unchanged', 'unchanged'),
    ('add a volcano erupting in the background',
     'add', None, 'volcano', 'background', 'unchanged', 'inside'),
    ('What if the horses were zebras?',
     'replace', 'horses', 'zebras', None, 'unchanged', 'unchanged'),
    ('make the people aliens', 'replace', 'people', 'aliens', None, 'unchanged', 'unchanged'),
    ('Make it a cartoon', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('turn the forest into an underwater scene',
     'replace', 'forest', 'underwater scene', None, 'unchanged', 'unchanged'),
    ('make the mountains snowy',
     'texture', 'mountains', 'mountains', None, 'unchanged', 'unchanged'),
    ('Put the cat in a spacesuit', 'add', None, 'spacesuit', 'cat', 'unchanged', 'inside'),
    ('add a rainbow', 'add', None, 'rainbow', None, 'unchanged', 'none'),
    ('The flowers should be sunflowers',
     'replace', 'flowers', 'sunflowers', None, 'unchanged', 'unchanged'),
    ('Make the painting a photograph',
     'replace', 'painting', 'photograph', None, 'unchanged', 'unchanged'),
    ('Make the bananas apples', 'replace', 'bananas', 'apples', None, 'unchanged', 'unchanged'),
    ('turn the car into a spaceship',
     'replace', 'car', 'spaceship', None, 'unchanged', 'unchanged'),
    ('Give the man a hat', 'add', None, 'hat', 'man', 'unchanged', 'inside'),
    ('Let the boy be holding a balloon', 'add', None, 'balloon', 'boy', 'unchanged', 'inside'),
    ('Put a cherry on top of the cake', 'add', None, 'cherry', 'cake', 'unchanged', 'up'),
    ('The table should have a vase of roses on it',
     'add', None, 'vase of roses', 'table', 'unchanged', 'inside'),
    ('Have the giraffe stand next to a tree',
     'action', 'giraffe', 'giraffe', None, 'unchanged', 'unchanged'),
    ('Change the pizza to a salad', 'replace', 'pizza', 'salad', None, 'unchanged', 'unchanged'),
    ('remove the toothbrush from the cup', 'remove', 'toothbrush', None, None, 'unchanged', 'none'),
    ("Let's have a cat sitting on the bench", 'add', None, 'cat', 'bench', 'unchanged', 'inside'),
    ("Change the woman's shirt to purple",
     'color', "woman's shirt", "woman's shirt", None, 'unchanged', 'unchanged'),
    ('Make the water frozen', 'texture', 'water', 'water', None, 'unchanged', 'unchanged'),
    ('There should be a fire in the fireplace',
     'add', None, 'fire', 'fireplace', 'unchanged', 'inside'),
    ('let the plate be full of cookies', 'add', None, 'cookies', 'plate', 'unchanged', 'inside'),
    ('Change the elephant into a mammoth',
     'replace', 'elephant', 'mammoth', None, 'unchanged', 'unchanged'),
    ('The cat should be a lion', 'replace', 'cat', 'lion', None, 'unchanged', 'unchanged'),
    ('Make the television show a soccer game',
     'replace', 'television', 'soccer game', None, 'unchanged', 'unchanged'),
    ('Add a surfer riding the wave', 'add', None, 'surfer', None, 'unchanged', 'none'),
    ('Make the bear a panda', 'replace', 'bear', 'panda', None, 'unchanged', 'unchanged'),
    ('Remove the woman on the left', 'remove', 'woman', None, None, 'unchanged', 'none'),
    ('Take away the laptop', 'remove', 'laptop', None, None, 'unchanged', 'none'),
    ('Add snow to the mountain tops', 'add', None, 'snow', 'mountain tops', 'unchanged', 'inside'),
    ('Change the kite into a bird', 'replace', 'kite', 'bird', None, 'unchanged', 'unchanged'),
    ('make the bench red', 'color', 'bench', 'bench', None, 'unchanged', 'unchanged'),
    ('Change the orange cat to a gray cat', 'color', 'cat', 'cat', None, 'unchanged', 'unchanged'),
    ('Make the giraffe shorter', 'size', 'giraffe', 'giraffe', None, 'smaller', 'unchanged'),
    ('Turn the teddy bear into a real bear',
     'replace', 'teddy bear', 'real bear', None, 'unchanged', 'unchanged'),
    ("Put a bow on the dog's head", 'add', None, 'bow', "dog's head", 'unchanged', 'inside'),
    ('Add a steaming cup of coffee next to the laptop',
     'add', None, 'steaming cup of coffee', 'laptop', 'unchanged', 'near'),
    ('Add a small boat on the river', 'add', None, 'small boat', 'river', 'unchanged', 'inside'),
    ('Change the tie to a bow tie', 'replace', 'tie', 'bow tie', None, 'unchanged', 'unchanged'),
    ('Replace the grass with sand', 'texture', 'grass', 'grass', None, 'unchanged', 'unchanged'),
    ("Change the cat's eyes to green",
     'color', "cat's eyes", "cat's eyes", None, 'unchanged', 'unchanged'),
    ('Make the flower bigger', 'size', 'flower', 'flower', None, 'larger', 'unchanged'),
    ('the man should have a beard', 'add', None, 'beard', 'man', 'unchanged', 'inside'),
    ('Change the horse to a unicorn',
     'replace', 'horse', 'unicorn', None, 'unchanged', 'unchanged'),
    ('Make the sofa leather', 'texture', 'sofa', 'sofa', None, 'unchanged', 'unchanged'),
    ('Make the birds fly', 'action', 'birds', 'birds', None, 'unchanged', 'unchanged'),
    ('make the picture sepia', 'style_global', 'all', 'all', None, 'unchanged', 'unchanged'),
    ('Make the cake a chocolate cake', 'texture', 'cake', 'cake', None, 'unchanged', 'unchanged'),
    ('Remove the stop sign', 'remove', 'stop sign', None, None, 'unchanged', 'none'),
    ('Put a cat on the roof of the car',
     'add', None, 'cat', 'roof of the car', 'unchanged', 'inside'),
    ('Add a sailboat to the water', 'add', None, 'sailboat', 'water', 'unchanged', 'inside'),
    ('Change the street to a canal', 'replace', 'street', 'canal', None, 'unchanged', 'unchanged'),
    ("Make the woman's hair short",
     'size', "woman's hair", "woman's hair", None, 'smaller', 'unchanged'),
    ('Add a dog', 'add', None, 'dog', None, 'unchanged', 'none'),

]


def _case(row: tuple) -> ParserCase:
    instruction, edit_type, source, target, reference, size, position = row
    expected = EditSpec(edit_type=edit_type, source_object=source, target_object=target,
                        reference_object=reference, size_change=size,
                        position_change=position)
    return ParserCase(instruction, expected)


@pytest.mark.parametrize("row", GENERALISATION, ids=[row[0] for row in GENERALISATION])
def test_generalisation_case(row: tuple) -> None:
    case = _case(row)
    result = score_case(case, PARSER.parse(case.instruction))
    assert result.wrong_fields == [], result.predicted


def test_generalisation_set_reaches_the_thresholds() -> None:
    report = evaluate_parser(PARSER, [_case(row) for row in GENERALISATION])
    assert all(report.meets_thresholds().values()), report.to_text()
    covered = {row[1] for row in GENERALISATION}
    assert covered == {"add", "remove", "replace", "color", "texture", "size", "move",
                       "action", "style_global", "background"}


@pytest.mark.skipif(not DEV_CASES.is_file(), reason=f"dev case file not found at {DEV_CASES}")
def test_dev_cases_reach_the_thresholds() -> None:
    report = evaluate_parser(PARSER, load_cases(DEV_CASES))
    assert len(report.results) == 83
    for name, bar in THRESHOLDS.items():
        assert report.accuracy[name] >= bar, report.to_text()
    assert report.accuracy["position_change_directional"] >= 0.90


# Exact specs for tricky phrasings: locators, compounds, possessives, pronouns, alternations.
EXACT = [
    ("Remove the potted plant to the left of the mirror",
     dict(edit_type="remove", source_object="potted plant", target_object=None,
          position_change="none", source_locator="to the left of the mirror")),
    ("Turn the books stack on the right of the flower vase into a cake",
     dict(edit_type="replace", source_object="books stack", target_object="cake",
          position_change="unchanged", source_locator="on the right of the flower vase")),
    ("Shift the lower leopard into a snake",
     dict(edit_type="replace", source_object="leopard", target_object="snake",
          source_locator="lower")),
    ("Transform the left-hand building into a castle",
     dict(edit_type="replace", source_object="building", target_object="castle",
          source_locator="left-hand")),
    ("give her a crown",
     dict(edit_type="add", source_object=None, target_object="crown", reference_object="her",
          position_change="inside", flags=("unresolved_pronoun",))),
    ("move it to Las Vegas",
     dict(edit_type="background", source_object="background", target_object="Las Vegas",
          flags=())),
    ("Move her to the jungle",
     dict(edit_type="background", source_object="background", target_object="jungle")),
    ("Change the color of the girl's T-shirt to red",
     dict(edit_type="color", source_object="girl's T-shirt", target_object="girl's T-shirt",
          position_change="unchanged")),
    ("Add three cats to the couch",
     dict(edit_type="add", target_object="three cats", reference_object="couch",
          position_change="inside")),
    ("Place a bowl on the table's surface",
     dict(edit_type="add", target_object="bowl", reference_object="table",
          position_change="inside")),
    ("Add a man to the left of the road sign",
     dict(edit_type="add", target_object="man", reference_object="road sign",
          position_change="left")),
    ("Add a pair of red shoes under the bed",
     dict(edit_type="add", target_object="red shoes", reference_object="bed",
          position_change="down")),
    ("Put a black umbrella over her head",
     dict(edit_type="add", target_object="black umbrella", reference_object="her head",
          position_change="up", flags=())),
    ("The cow must be expunged from the image",
     dict(edit_type="remove", source_object="cow", target_object=None)),
    ("Ensure there's no sheep in the image",
     dict(edit_type="remove", source_object="sheep", position_change="none")),
    ("remove the cup from his hand.",
     dict(edit_type="remove", source_object="cup", source_locator="from his hand")),
    ("What if the cat had a bow tie?",
     dict(edit_type="add", target_object="bow tie", reference_object="cat",
          position_change="inside")),
    ("Let there be a lighthouse on the cliff",
     dict(edit_type="add", target_object="lighthouse", reference_object="cliff",
          position_change="inside")),
    ("Swap the mouse with a tangy lemon",
     dict(edit_type="replace", source_object="mouse", target_object="tangy lemon")),
    ("Substitute a lion for the tiger",
     dict(edit_type="replace", source_object="tiger", target_object="lion")),
    ("Swap the apple for an orange",
     dict(edit_type="replace", source_object="apple", target_object="orange")),
    ("Change the green vase to a white vase",
     dict(edit_type="color", source_object="vase", target_object="vase")),
    ("Turn the horse to a black cow",
     dict(edit_type="replace", source_object="horse", target_object="black cow")),
    ("make the dog run",
     dict(edit_type="action", source_object="dog", target_object="dog",
          position_change="unchanged")),
    ("Make it a Van Gogh painting",
     dict(edit_type="style_global", source_object="all", target_object="all")),
    ("Have it be during the end of the world.",
     dict(edit_type="style_global", source_object="all", target_object="all", flags=())),
    ("Refashion the backdrop of this photograph to resemble a desert landscape",
     dict(edit_type="background", source_object="backdrop", target_object="desert landscape")),
    ("Turn it red",
     dict(edit_type="color", source_object="it", target_object="it",
          flags=("unresolved_pronoun",))),
    ("Remove it",
     dict(edit_type="remove", source_object="it", flags=("unresolved_pronoun",))),
    ("Make them bigger",
     dict(edit_type="size", source_object="them", size_change="larger",
          flags=("unresolved_pronoun",))),
    ("Make the wine bottle on the shelf smaller",
     dict(edit_type="size", source_object="wine bottle", size_change="smaller",
          source_locator="on the shelf")),
    ("make the building much larger",
     dict(edit_type="size", source_object="building", size_change="larger")),
    ("Give the bear bigger claws",
     dict(edit_type="size", source_object="bear's claws", size_change="larger")),
    ("Put the teddy bear next to the lamp",
     dict(edit_type="move", source_object="teddy bear", target_object="teddy bear",
          reference_object="lamp", position_change="near")),
    ("Move the car under the bridge",
     dict(edit_type="move", source_object="car", reference_object="bridge",
          position_change="down")),
    ("move the sun to the left",
     dict(edit_type="move", source_object="sun", reference_object=None,
          position_change="left")),
    ("Paint the door blue",
     dict(edit_type="color", source_object="door", target_object="door")),
    ("Cover the land in white pigment",
     dict(edit_type="color", source_object="land", target_object="land")),
    ("The spoon on the right is made of green ceramic",
     dict(edit_type="texture", source_object="spoon", source_locator="on the right")),
    ("Make the wicker basket on the top out of velvet.",
     dict(edit_type="texture", source_object="wicker basket", source_locator="on the top")),
    ("Make the bowl on the top of the red bowl yellow",
     dict(edit_type="color", source_object="bowl",
          source_locator="on the top of the red bowl")),
    ("Change the tiger's fur color to black",
     dict(edit_type="color", source_object="tiger's fur")),
    ("Change the image to black and white style",
     dict(edit_type="style_global", source_object="all", target_object="all")),
    ("Please could you remove all of the birds from this picture, thanks",
     dict(edit_type="remove", source_object="birds", source_locator=None)),
    ("Put the cat in a spacesuit",
     dict(edit_type="add", target_object="spacesuit", reference_object="cat",
          position_change="inside")),
    ("Make the flowers purple instead of red",
     dict(edit_type="color", source_object="flowers")),
]


@pytest.mark.parametrize("instruction,expected", EXACT, ids=[e[0] for e in EXACT])
def test_exact_spec(instruction: str, expected: dict) -> None:
    spec = PARSER.parse(instruction)
    got = {name: getattr(spec, name) for name in expected}
    assert got == expected
    assert spec.instruction == instruction and spec.parser == "rules"


def test_parser_satisfies_the_interface() -> None:
    assert isinstance(PARSER, InstructionParser)
    assert PARSER.parser_id == "rules"


def test_parse_is_deterministic_and_keeps_original_spelling() -> None:
    first = PARSER.parse("Change the color of the girl's T-shirt to red")
    assert first == PARSER.parse("Change the color of the girl's T-shirt to red")
    assert first.source_object == "girl's T-shirt"
    assert PARSER.parse("move it to Las Vegas").target_object == "Las Vegas"


def test_curly_apostrophes_and_multiple_sentences() -> None:
    spec = PARSER.parse("Ensure there’s no sheep in the image")
    assert (spec.edit_type, spec.source_object) == ("remove", "sheep")
    spec = PARSER.parse("Xyzzy plugh. Replace the boat with a swan.")
    assert (spec.edit_type, spec.source_object, spec.target_object) == ("replace", "boat", "swan")


@pytest.mark.parametrize("bad", ["", "   ", "\n\t "])
def test_empty_instruction_raises(bad: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        PARSER.parse(bad)


@pytest.mark.parametrize("bad", [None, 42, b"make the cat black"])
def test_non_string_instruction_raises(bad: object) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        PARSER.parse(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "asdkjh qwoeiu zxcmnb",
        "lorem ipsum dolor sit amet",
        "!!!???",
        "12345 67890",
        "Supprime le chat de l'image",
        "Entferne die Katze aus dem Bild",
        "Cambia el color del coche a rojo",
        "把猫变成黑色",
        "Сделай кота черным",
        "remove",
        "a cat",
    ],
)
def test_unreadable_input_is_other_with_low_confidence(text: str) -> None:
    spec = PARSER.parse(text)
    assert spec.edit_type == "other"
    assert spec.flags == ("low_confidence",)
    assert spec.source_object is None and spec.target_object is None


def test_overlong_instruction_is_not_read_and_is_flagged() -> None:
    text = "make the cat black " * 600
    assert len(text) > MAX_CHARS
    spec = PARSER.parse(text)
    assert spec.edit_type == "other"
    assert set(spec.flags) == {"truncated", "low_confidence"}
    assert spec.instruction == text


def test_max_chars_is_configurable_and_validated() -> None:
    assert RulesParser(max_chars=10).parse("make the cat black").flags == (
        "truncated", "low_confidence")
    assert RulesParser(max_chars=50).parse("make the cat black").edit_type == "color"
    with pytest.raises(ValueError, match="max_chars"):
        RulesParser(max_chars=0)


def test_throughput_sanity() -> None:
    """Speed targets (>= 1,000/s) belong to benchmarks; this only catches a pathological
    slowdown and prints the measured rate."""
    texts = [row[0] for row in GENERALISATION] * 3
    start = time.perf_counter()
    for text in texts:
        PARSER.parse(text)
    rate = len(texts) / (time.perf_counter() - start)
    print(f"rules parser: {rate:,.0f} instructions/s")
    assert rate > 100
