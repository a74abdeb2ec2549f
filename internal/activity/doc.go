// Package activity measures how much an application writes to a store file: [Counter] keeps a
// running count of the lines and bytes appended, following the file across rotations and
// replacements. The file backends report it to the daemon's traffic guard, which compares two
// observations a sample apart.
package activity
