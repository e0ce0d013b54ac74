"""Reference strings shared by several measure families (cited in ``references``)."""

RESI = ("Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025). ReSi: a "
        "comprehensive benchmark for representational similarity measures. ICLR.")
SIMILARITY_SURVEY = ("Klabunde, Schumacher, Strohmaier & Lemmerich (2025). Similarity of "
                     "neural network models: a survey of functional and representational "
                     "measures. ACM Computing Surveys 57(9).")
KORNBLITH = ("Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network "
             "representations revisited. ICML.")
