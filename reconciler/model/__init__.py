"""The shared vocabulary of every stage: desired specs (desired), observed state
(observed), plans and actions (actions), ownership labels, the config hash, image
references and the project's errors. Pure data and pure functions; imports nothing of ours
outside this package."""
