"""A CTC line recogniser ("reader") that reads pixelated text directly.

The three parts are kept apart, as CRNN + CTC toolkits do: the network
(``network.ReaderNet``: image -> per-column log-probabilities), the decoder
(``decoding``: greedy and beam search over log-probabilities, no network) and the metric
(torchmetrics' CER, in ``module.ReaderModule``). ``read.Reader`` joins network and decoder
for inference on line images of any size.
"""
