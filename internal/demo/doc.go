// Package demo owns the synthetic member world behind `rdg generate` and
// `rdg up --demo`, and the events it emits: households of members who
// share the household's TV and tablet and have devices and profiles of
// their own, a few members who also sign in on another household's screen
// (account sharing), a handful of devices that many unrelated accounts use
// (the fraud-looking pattern), a shared catalog of titles (films and shows
// with seasons and episodes) and games with power-law popularity, and
// sessions that start with a login on a device and go on with playbacks
// and games on that device. A roll call signs every member in on each of
// their devices once before logins become random, and an optional history
// backdates the first events, so that a consumer starting with the
// generator has the whole world within seconds. Part of the world, the
// story (StoryMember, HouseholdTV, FraudDevice, ...), is the same for every
// seed so that documentation can name it.
//
// The events go to three source topics (TopicLogins, TopicPlayback,
// TopicGames) as Avro in the Confluent wire format, which is all the rest
// of rdg sees of them. This package is a producer like any other: it must
// not know about jobs, the graph, stores or serving, and nothing in rdg
// may depend on it beyond those topics and schemas.
//
// Generator is pure (no I/O, deterministic given Config.Seed) so that it
// can also feed benchmarks without a broker; Run adds the registry, the
// encoding, pacing and the Kafka producer around it.
package demo
