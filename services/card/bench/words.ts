// Word lists of the benchmark data set (seed.ts) and of the searches run.ts makes.
export const ADJECTIVES = ['nebula', 'cosmic', 'stellar', 'lunar', 'solar', 'crystal', 'golden', 'silver', 'shadow', 'radiant', 'ancient', 'frozen',
  'blazing', 'mystic', 'electric', 'velvet', 'neon', 'prismatic', 'silent', 'wild', 'royal', 'hidden', 'sacred', 'stormy', 'emerald',
  'crimson', 'azure', 'obsidian', 'ivory', 'scarlet', 'phantom', 'astral', 'glowing', 'wandering', 'thunder', 'ember', 'frost', 'dream',
  'iron', 'jade', 'opal', 'ruby', 'sapphire', 'topaz', 'amber', 'onyx', 'pearl', 'coral', 'storm', 'ocean', 'desert', 'forest', 'mountain',
  'river', 'sky', 'star', 'moon', 'sun', 'comet', 'aurora']
export const NOUNS = ['dragon', 'fox', 'wolf', 'phoenix', 'tiger', 'owl', 'serpent', 'lion', 'bear', 'raven', 'whale', 'turtle', 'stag', 'falcon',
  'panther', 'griffin', 'unicorn', 'kraken', 'golem', 'knight', 'wizard', 'samurai', 'ninja', 'pirate', 'robot', 'android', 'spirit',
  'guardian', 'titan', 'giant', 'sprite', 'fairy', 'witch', 'monk', 'ranger', 'hunter', 'queen', 'king', 'prince', 'oracle', 'sentinel',
  'warden', 'voyager', 'nomad', 'sage', 'beast', 'hydra', 'chimera', 'wyvern', 'basilisk', 'leviathan', 'cyclops', 'minotaur', 'sphinx',
  'pegasus', 'cerberus', 'yeti', 'kitsune', 'tengu', 'kirin']
export const TAGS = ['space', 'fantasy', 'animal', 'myth', 'scifi', 'retro', 'pixel', 'neon', 'nature', 'ocean', 'fire', 'ice', 'storm', 'night',
  'dawn', 'cute', 'dark', 'epic-art', 'holo-foil', 'classic']
