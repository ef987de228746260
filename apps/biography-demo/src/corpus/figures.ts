/** A dated claim about a historical figure, written for this project. */
export interface Fact {
  /** Year the claim refers to. */
  readonly year: number
  /** Verb phrase that completes "<subject> …", without the year. */
  readonly claim: string
}

/** One period of a figure's life; chapters are built from these. */
export interface Period {
  readonly title: string
  /** First year of the period (inclusive). */
  readonly from: number
  /** Last year of the period (inclusive). */
  readonly to: number
}

/** The fact base of one figure: what the generated sources are about. */
export interface Figure {
  readonly slug: string
  readonly name: string
  readonly surname: string
  readonly pronoun: 'she' | 'he'
  readonly born: number
  readonly died: number
  readonly summary: string
  readonly periods: readonly Period[]
  readonly facts: readonly Fact[]
}

/** The bundled offline corpus: five figures, each with a fact base. */
export const figures: readonly Figure[] = [
  {
    slug: 'marie-curie',
    name: 'Marie Curie',
    surname: 'Curie',
    pronoun: 'she',
    born: 1867,
    died: 1934,
    summary:
      'Physicist and chemist who pioneered research on radioactivity and was the first person to win Nobel Prizes in two sciences.',
    periods: [
      { title: 'Childhood in Warsaw', from: 1867, to: 1890 },
      { title: 'Paris and the discovery of radium', from: 1891, to: 1905 },
      { title: 'Grief, the Sorbonne and a second Nobel Prize', from: 1906, to: 1913 },
      { title: 'War service and final years', from: 1914, to: 1934 },
      { title: 'Legacy', from: 1935, to: 2100 },
    ],
    facts: [
      {
        year: 1867,
        claim: 'was born Maria Salomea Skłodowska in Warsaw, then part of the Russian Empire',
      },
      {
        year: 1883,
        claim: 'finished secondary school in Warsaw with a gold medal for her results',
      },
      {
        year: 1885,
        claim: 'began attending the clandestine Flying University that admitted women in Warsaw',
      },
      { year: 1891, claim: 'moved to Paris and enrolled in the science faculty of the Sorbonne' },
      { year: 1893, claim: 'earned her degree in physics at the top of her class' },
      {
        year: 1895,
        claim: 'married the physicist Pierre Curie in a simple civil ceremony at Sceaux',
      },
      { year: 1898, claim: 'announced the discovery of polonium, named after her native Poland' },
      {
        year: 1902,
        claim: 'isolated a decigram of radium chloride from tonnes of pitchblende residue',
      },
      {
        year: 1903,
        claim: 'shared the Nobel Prize in Physics with Pierre Curie and Henri Becquerel',
      },
      {
        year: 1906,
        claim: 'lost her husband Pierre, who was killed by a horse-drawn wagon in a Paris street',
      },
      {
        year: 1908,
        claim: 'became the first woman to hold a full professorship at the University of Paris',
      },
      { year: 1910, claim: 'isolated radium as a pure metal together with André-Louis Debierne' },
      {
        year: 1911,
        claim: 'received the Nobel Prize in Chemistry for the discovery of radium and polonium',
      },
      {
        year: 1914,
        claim: 'organised mobile radiography units that soldiers called the little Curies',
      },
      {
        year: 1921,
        claim: 'toured the United States and received a gram of radium as a gift for her research',
      },
      { year: 1934, claim: 'died of aplastic anaemia linked to her long exposure to radiation' },
      {
        year: 1995,
        claim:
          'was reburied in the Panthéon in Paris beside Pierre, honoured for her own achievements',
      },
    ],
  },
  {
    slug: 'ada-lovelace',
    name: 'Ada Lovelace',
    surname: 'Lovelace',
    pronoun: 'she',
    born: 1815,
    died: 1852,
    summary:
      'Mathematician and writer whose notes on the Analytical Engine contain what is often called the first published computer program.',
    periods: [
      { title: 'A childhood of mathematics', from: 1815, to: 1832 },
      { title: 'Babbage and the Analytical Engine', from: 1833, to: 1842 },
      { title: 'The Notes and her final years', from: 1843, to: 1852 },
      { title: 'Legacy', from: 1853, to: 2100 },
    ],
    facts: [
      {
        year: 1815,
        claim:
          'was born Augusta Ada Byron in London, the only legitimate child of the poet Lord Byron',
      },
      {
        year: 1816,
        claim: 'was separated from her father when her parents parted a few weeks after her birth',
      },
      { year: 1828, claim: 'designed a flying machine and studied the anatomy of birds for it' },
      { year: 1833, claim: 'met Charles Babbage and saw a demonstration of his Difference Engine' },
      { year: 1835, claim: 'married William King, who was later made Earl of Lovelace' },
      {
        year: 1838,
        claim: 'became the Countess of Lovelace when her husband was raised to an earldom',
      },
      {
        year: 1840,
        claim: 'began advanced lessons in mathematics by correspondence with Augustus De Morgan',
      },
      {
        year: 1843,
        claim:
          'published her translation of Menabrea’s paper on the Analytical Engine with extensive notes',
      },
      {
        year: 1843,
        claim: 'described in Note G a method for computing Bernoulli numbers on the engine',
      },
      { year: 1844, claim: 'wrote of her wish to develop a calculus of the nervous system' },
      {
        year: 1852,
        claim: 'died of uterine cancer at the age of thirty-six and was buried beside her father',
      },
      {
        year: 1953,
        claim: 'gained new readers when her notes were republished in a book on digital computers',
      },
      {
        year: 1980,
        claim:
          'gave her name to the Ada programming language standardised for the US Department of Defense',
      },
      {
        year: 2009,
        claim: 'was celebrated by the first Ada Lovelace Day honouring women in science',
      },
    ],
  },
  {
    slug: 'alan-turing',
    name: 'Alan Turing',
    surname: 'Turing',
    pronoun: 'he',
    born: 1912,
    died: 1954,
    summary:
      'Mathematician and computer scientist who formalised computation, broke wartime ciphers and asked whether machines can think.',
    periods: [
      { title: 'School years', from: 1912, to: 1930 },
      { title: 'Cambridge, Princeton and computable numbers', from: 1931, to: 1938 },
      { title: 'Bletchley Park', from: 1939, to: 1945 },
      { title: 'Computers, intelligence and persecution', from: 1946, to: 1954 },
      { title: 'Legacy', from: 1955, to: 2100 },
    ],
    facts: [
      {
        year: 1912,
        claim:
          'was born in Maida Vale, London, while his father served in the Indian Civil Service',
      },
      {
        year: 1926,
        claim:
          'cycled sixty miles to Sherborne School because the general strike stopped the trains',
      },
      { year: 1931, claim: 'went up to King’s College, Cambridge, to read mathematics' },
      {
        year: 1935,
        claim: 'was elected a fellow of King’s College for his work on the central limit theorem',
      },
      {
        year: 1936,
        claim: 'published On Computable Numbers, introducing the machine now named after him',
      },
      {
        year: 1938,
        claim: 'completed his doctorate at Princeton under the logician Alonzo Church',
      },
      {
        year: 1939,
        claim: 'joined the code breakers at Bletchley Park on the day after war was declared',
      },
      {
        year: 1940,
        claim: 'designed the bombe, an electromechanical machine that searched Enigma settings',
      },
      { year: 1942, claim: 'travelled to the United States to advise on naval cipher work' },
      {
        year: 1946,
        claim:
          'presented a detailed design for the Automatic Computing Engine at the National Physical Laboratory',
      },
      {
        year: 1948,
        claim: 'moved to the University of Manchester to work on its early stored-program computer',
      },
      { year: 1950, claim: 'proposed the imitation game as a test of machine intelligence' },
      {
        year: 1952,
        claim: 'published a theory of morphogenesis explaining patterns in living things',
      },
      {
        year: 1952,
        claim: 'was prosecuted for homosexual acts and forced to accept hormone treatment',
      },
      { year: 1954, claim: 'died of cyanide poisoning at his home in Wilmslow' },
      {
        year: 2009,
        claim: 'received a public apology from the British prime minister for his treatment',
      },
      { year: 2013, claim: 'was granted a posthumous royal pardon' },
      { year: 2021, claim: 'appeared on the Bank of England fifty pound note' },
    ],
  },
  {
    slug: 'nikola-tesla',
    name: 'Nikola Tesla',
    surname: 'Tesla',
    pronoun: 'he',
    born: 1856,
    died: 1943,
    summary:
      'Inventor and electrical engineer best known for the alternating current induction motor and polyphase power systems.',
    periods: [
      { title: 'Youth in the Austrian Empire', from: 1856, to: 1880 },
      { title: 'Budapest, Paris and Edison', from: 1881, to: 1886 },
      { title: 'Alternating current', from: 1887, to: 1898 },
      { title: 'Colorado Springs, Wardenclyffe and decline', from: 1899, to: 1943 },
      { title: 'Legacy', from: 1944, to: 2100 },
    ],
    facts: [
      {
        year: 1856,
        claim:
          'was born in the village of Smiljan in the Austrian Empire, the son of an Orthodox priest',
      },
      {
        year: 1875,
        claim: 'enrolled at the Imperial-Royal Technical College in Graz on a military scholarship',
      },
      { year: 1881, claim: 'took a job at the new telephone exchange in Budapest' },
      {
        year: 1882,
        claim: 'joined the Continental Edison Company in Paris to improve lighting installations',
      },
      {
        year: 1884,
        claim: 'arrived in New York with little money and went to work for Thomas Edison',
      },
      { year: 1887, claim: 'founded an electric company to develop his alternating current motor' },
      { year: 1888, claim: 'licensed his induction motor patents to George Westinghouse' },
      { year: 1891, claim: 'patented the resonant transformer known as the Tesla coil' },
      { year: 1891, claim: 'became a naturalised citizen of the United States' },
      {
        year: 1893,
        claim: 'helped light the World’s Columbian Exposition in Chicago with alternating current',
      },
      {
        year: 1895,
        claim: 'lost notes and equipment when fire destroyed his laboratory on Fifth Avenue',
      },
      {
        year: 1899,
        claim:
          'built an experimental station in Colorado Springs to study high voltage and wireless power',
      },
      {
        year: 1901,
        claim: 'began building Wardenclyffe Tower on Long Island for wireless transmission',
      },
      {
        year: 1917,
        claim: 'received the Edison Medal of the American Institute of Electrical Engineers',
      },
      { year: 1943, claim: 'died alone in his room at the Hotel New Yorker' },
      { year: 1960, claim: 'gave his name to the tesla, the SI unit of magnetic flux density' },
    ],
  },
  {
    slug: 'rosalind-franklin',
    name: 'Rosalind Franklin',
    surname: 'Franklin',
    pronoun: 'she',
    born: 1920,
    died: 1958,
    summary:
      'Chemist and X-ray crystallographer whose images of DNA were central to understanding its double helix.',
    periods: [
      { title: 'London and Cambridge', from: 1920, to: 1946 },
      { title: 'Paris and X-ray diffraction', from: 1947, to: 1950 },
      { title: 'King’s College and Photograph 51', from: 1951, to: 1952 },
      { title: 'Birkbeck and viruses', from: 1953, to: 1958 },
      { title: 'Legacy', from: 1959, to: 2100 },
    ],
    facts: [
      {
        year: 1920,
        claim: 'was born in Notting Hill, London, into a prominent Jewish banking family',
      },
      { year: 1938, claim: 'entered Newnham College, Cambridge, to study natural sciences' },
      { year: 1941, claim: 'graduated in chemistry from Cambridge' },
      {
        year: 1942,
        claim:
          'started research on the porosity of coal for the British Coal Utilisation Research Association',
      },
      { year: 1945, claim: 'received her doctorate from Cambridge for her work on coal' },
      {
        year: 1947,
        claim: 'moved to Paris to learn X-ray diffraction at a government chemistry laboratory',
      },
      {
        year: 1951,
        claim: 'joined King’s College London as a research associate to study DNA fibres',
      },
      {
        year: 1952,
        claim:
          'recorded Photograph 51 with her student Raymond Gosling, showing the helical form of DNA',
      },
      { year: 1953, claim: 'moved to Birkbeck College to study the structure of viruses' },
      { year: 1955, claim: 'published work on the structure of the tobacco mosaic virus' },
      { year: 1956, claim: 'was diagnosed with ovarian cancer but continued working' },
      { year: 1958, claim: 'died of ovarian cancer in London at the age of thirty-seven' },
      {
        year: 1962,
        claim: 'was not among those honoured when the Nobel Prize recognised the DNA structure',
      },
      { year: 2019, claim: 'gave her name to the European Mars rover Rosalind Franklin' },
    ],
  },
]

/** Finds a figure by name or slug, ignoring case, accents and punctuation. */
export function findFigure(query: string): Figure | undefined {
  const wanted = normalizeName(query)
  return figures.find(
    (f) => normalizeName(f.name) === wanted || f.slug === wanted.replace(/ /g, '-'),
  )
}

function normalizeName(value: string): string {
  return value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
}
