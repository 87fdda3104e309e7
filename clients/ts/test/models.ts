import { defineModel, type View } from '../src/model.js';

export interface AlbumValues {
  name: string;
  year: number;
  rating: number | null;
}

export const Album = defineModel<AlbumValues>('album', {
  name: { type: 'text' },
  year: { type: 'bigint' },
  rating: { type: 'double precision', nullable: true },
});

export type AlbumView = View<AlbumValues>;

export const names = (rows: readonly { name: string }[]): string => rows.map((r) => r.name).join(', ');
